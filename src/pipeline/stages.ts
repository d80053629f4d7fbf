/**
 * Runs a phase's stages in order, synchronously for as long as each stage is: a request that needs
 * no I/O is decided in the same turn, with no promise made, and one that waits resumes at the stage
 * after the one that waited. A stage refuses the request by throwing (a RouterError).
 */
export type Stage<C> = (ctx: C) => void | Promise<void>;

export function runStages<C>(ctx: C, stages: readonly Stage<C>[], from = 0): void | Promise<void> {
  for (let i = from; i < stages.length; i++) {
    const waiting = stages[i]!(ctx);
    if (waiting !== undefined) return waiting.then(() => runStages(ctx, stages, i + 1));
  }
}

/**
 * Resolves a virtual model (e.g. `auto`) to a model group: the rules first, in order (the first
 * whose every condition holds decides), then the similarity to example utterances — of embedding
 * vectors when the caller brings the prompt's (fetched from a configured endpoint), else of the
 * local matcher — then the default group. Pure: vectors come in as arguments.
 */
import type { VirtualModel } from '../../config/compile.js';
import { promptTokens } from '../filters.js';
import type { Classification, RouteRequest } from '../types.js';
import { SemanticMatcher } from './semantic.js';

type Rule = VirtualModel['rules'][number];

/** The example utterances' embeddings, one per example, each with its route's group. */
export type ExampleVectors = ReadonlyArray<{ readonly group: string; readonly vector: Float32Array }>;

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length && i < b.length; i++) s += a[i]! * b[i]!;
  return s;
}

function matches(rule: Rule, req: RouteRequest): boolean {
  const w = rule.when;
  if (w.has_image !== undefined && w.has_image !== req.hasImage) return false;
  if (w.has_tools !== undefined && w.has_tools !== req.hasTools) return false;
  // Token thresholds read the count the pipeline made when the free bound reaches one, else the bound.
  if (w.min_prompt_tokens !== undefined && promptTokens(req) < w.min_prompt_tokens) return false;
  if (w.max_prompt_tokens !== undefined && promptTokens(req) > w.max_prompt_tokens) return false;
  if (w.pattern !== null && !w.pattern.test(req.lastUserText)) return false;
  if (w.keywords !== undefined) {
    const text = req.lastUserText.toLowerCase();
    if (!w.keywords.some((k) => text.includes(k.toLowerCase()))) return false;
  }
  if (w.metadata !== undefined) {
    for (const [k, v] of Object.entries(w.metadata)) if (req.metadata[k] !== v) return false;
  }
  return true;
}

export class Classifier {
  private readonly matcher: SemanticMatcher | null;

  constructor(
    private readonly model: VirtualModel,
    private readonly examples: ExampleVectors | null = null,
  ) {
    this.matcher = model.semantic === null ? null : new SemanticMatcher(model.semantic.routes);
  }

  /** The first rule that matches, if any. */
  rule(req: RouteRequest): Rule | null {
    return this.model.rules.find((r) => matches(r, req)) ?? null;
  }

  /** Whether an embedding of this request's prompt would be used: examples are embedded and no rule decides. */
  wantsEmbedding(req: RouteRequest): boolean {
    return this.examples !== null && this.rule(req) === null;
  }

  classify(req: RouteRequest, promptVector: Float32Array | null = null): Classification {
    const base = { virtualModel: this.model.name };
    const rule = this.rule(req);
    if (rule !== null) return { ...base, group: rule.group, by: 'rule', match: rule.name, score: null };
    if (promptVector !== null && this.examples !== null) {
      let best: { group: string; score: number } | null = null;
      for (const e of this.examples) {
        const score = dot(promptVector, e.vector);
        if (best === null || score > best.score) best = { group: e.group, score };
      }
      if (best !== null && best.score >= this.model.semantic!.threshold) return { ...base, group: best.group, by: 'embedding', match: best.group, score: best.score };
      return { ...base, group: this.model.defaultGroup, by: 'default', match: null, score: best?.score ?? null };
    }
    const best = this.matcher?.best(req.lastUserText) ?? null;
    if (best !== null && best.score >= this.model.semantic!.threshold) return { ...base, group: best.group, by: 'semantic', match: best.group, score: best.score };
    return { ...base, group: this.model.defaultGroup, by: 'default', match: null, score: best?.score ?? null };
  }
}

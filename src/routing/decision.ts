/** The decision record: the structured form for the log line and the one-line form for the debug header. */
import type { Decision } from './types.js';

export function decisionRecord(d: Decision): Record<string, unknown> {
  if (d.outcome === 'unknown_model') return { outcome: d.outcome };
  const common = {
    outcome: d.outcome,
    group: d.group.name,
    strategy: d.group.strategy,
    classification: d.classification ?? undefined,
    excluded: d.excluded,
  };
  if (d.outcome === 'no_candidates') return common;
  return {
    ...common,
    candidates: d.candidates,
    scores: d.scores.map((s) => Math.round(s * 1000) / 1000),
    pick: d.primary.name,
    fallbacks: d.fallbacks.map((f) => f.name),
    fallback_from: d.fallbackFrom ?? undefined,
  };
}

/** `group=…; strategy=…; pick=…; fallbacks=a,b; excluded=c:tags,d:context_window; class=auto:rule:coding` */
export function describeDecision(d: Decision): string {
  if (d.outcome === 'unknown_model') return 'outcome=unknown_model';
  const parts = [`group=${d.group.name}`, `strategy=${d.group.strategy}`];
  if (d.outcome === 'routed') parts.push(`pick=${d.primary.name}`, `fallbacks=${d.fallbacks.map((f) => f.name).join(',')}`);
  else parts.push('outcome=no_candidates');
  parts.push(`excluded=${d.excluded.map((e) => `${e.deployment}:${e.reason}`).join(',')}`);
  const c = d.classification;
  if (c !== null) parts.push(`class=${c.virtualModel}:${c.by}:${c.group}${c.score === null ? '' : `:${c.score.toFixed(2)}`}`);
  return parts.join('; ');
}

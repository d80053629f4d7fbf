/**
 * Resolves a virtual model (e.g. `auto`) to a model group: the rules first, in order (the first
 * whose every condition holds decides), then the semantic matcher against example utterances,
 * then the default group. Pure and in-process.
 */
import type { VirtualModel } from '../../config/compile.js';
import type { Classification, RouteRequest } from '../types.js';
import { SemanticMatcher } from './semantic.js';

type Rule = VirtualModel['rules'][number];

function matches(rule: Rule, req: RouteRequest): boolean {
  const w = rule.when;
  if (w.has_image !== undefined && w.has_image !== req.hasImage) return false;
  if (w.has_tools !== undefined && w.has_tools !== req.hasTools) return false;
  // Token thresholds read the free bound first and count only when it cannot decide.
  if (w.min_prompt_tokens !== undefined && (req.promptTokensBound < w.min_prompt_tokens || req.promptTokens() < w.min_prompt_tokens)) return false;
  if (w.max_prompt_tokens !== undefined && req.promptTokensBound > w.max_prompt_tokens && req.promptTokens() > w.max_prompt_tokens) return false;
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

  constructor(private readonly model: VirtualModel) {
    this.matcher = model.semantic === null ? null : new SemanticMatcher(model.semantic.routes);
  }

  classify(req: RouteRequest): Classification {
    const base = { virtualModel: this.model.name };
    for (const rule of this.model.rules) {
      if (matches(rule, req)) return { ...base, group: rule.group, by: 'rule', match: rule.name, score: null };
    }
    const best = this.matcher?.best(req.lastUserText) ?? null;
    if (best !== null && best.score >= this.model.semantic!.threshold) return { ...base, group: best.group, by: 'semantic', match: best.group, score: best.score };
    return { ...base, group: this.model.defaultGroup, by: 'default', match: null, score: best?.score ?? null };
  }
}

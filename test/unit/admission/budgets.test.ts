/** The budget report: every configured budget, its spend in the current window, and when it resets. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { budgetReport, configuredBudgets } from '../../../src/admission/budgets.js';
import { parseConfig } from '../../../src/config/load.js';

const config = parseConfig(
  `${await readFile('examples/router.yaml', 'utf8')}
provider_budgets: [{provider: openai, usd: 100, window: 7d}]
model_group_budgets: [{group: gpt-4o, usd: 50, window: day}]
`,
  'router.yaml',
  {},
);
const NOW = Date.UTC(2026, 10, 22, 10, 30);

describe('budgets', () => {
  it('lists every budget of router.yaml, by owner, with its meter', () => {
    expect(configuredBudgets(config, NOW).map((b) => [b.owner, b.window, b.meter, b.limit])).toEqual([
      ['key free-tier', 'day', 'key:free-tier:usd:day', 1e9],
      ['team platform', 'month', 'team:platform:usd:month', 500e9],
      ['provider openai', '7d', 'provider:openai:usd:7d', 100e9],
      ['model group gpt-4o', 'day', 'group:gpt-4o:usd:day', 50e9],
    ]);
  });

  it('reports spend, what is left (never below zero), and when a calendar window starts again', () => {
    const budgets = configuredBudgets(config, NOW);
    expect(budgetReport(budgets, [250_000_000, 0, 100_000_000_000, 60e9])).toEqual([
      { owner: 'key free-tier', window: 'day', limit_usd: 1, spent_usd: 0.25, remaining_usd: 0.75, resets_at: '2026-11-23T00:00:00.000Z' },
      { owner: 'team platform', window: 'month', limit_usd: 500, spent_usd: 0, remaining_usd: 500, resets_at: '2026-12-01T00:00:00.000Z' },
      { owner: 'provider openai', window: '7d', limit_usd: 100, spent_usd: 100, remaining_usd: 0, resets_at: null },
      { owner: 'model group gpt-4o', window: 'day', limit_usd: 50, spent_usd: 60, remaining_usd: 0, resets_at: '2026-11-23T00:00:00.000Z' },
    ]);
  });
});

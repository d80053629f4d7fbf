/**
 * Virtual keys: what a client's key stands for (team, tags, tier, allowed models). Keys are known by
 * their SHA-256 only — from router.yaml or added at runtime through the state store — so neither the
 * config, the store nor the logs ever hold a usable key.
 */
import { createHash } from 'node:crypto';
import type { WindowName } from '../admission/windows.js';
import type { BalancePreset } from '../config/schema.js';

/** Rate limits and budgets a key, a team or a tag can carry. */
export interface Limits {
  readonly rpmLimit: number | null;
  readonly tpmLimit: number | null;
  readonly budgets: ReadonlyArray<{ readonly usd: number; readonly window: WindowName }>;
}

export interface VirtualKey extends Limits {
  readonly name: string;
  /** SHA-256 (hex) of the key. */
  readonly hash: string;
  readonly team: string | null;
  readonly tags: readonly string[];
  readonly tier: string | null;
  /** Models the key may request; null: all. */
  readonly models: ReadonlySet<string> | null;
  readonly disabled: boolean;
  /** Balanced presets its requests may pick; null: any. */
  readonly preferences: ReadonlySet<BalancePreset> | null;
  /** Budgeted tags its requests may send besides its own `tags`. */
  readonly allowedTags: ReadonlySet<string>;
  /** May ask for the decision header. */
  readonly debug: boolean;
  /** Fallbacks may go to groups outside `models`. */
  readonly fallbacksBeyondModels: boolean;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The key a request carries: `Authorization: Bearer <key>`, else `x-api-key` (Anthropic-style clients). */
export function presentedKey(headers: Readonly<Record<string, string>>): string | null {
  const auth = headers.authorization;
  const bearer = auth !== undefined && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ' ? auth.slice(7).trim() : '';
  if (bearer !== '') return bearer;
  const apiKey = headers['x-api-key'];
  return apiKey !== undefined && apiKey.length > 0 ? apiKey : null;
}

export function mayRequest(key: VirtualKey, model: string): boolean {
  return key.models === null || key.models.has(model);
}

/** The stored form (JSON in Redis, the admin API). */
export interface VirtualKeyRecord {
  readonly name: string;
  readonly hash: string;
  readonly team?: string | null | undefined;
  readonly tags?: readonly string[] | undefined;
  readonly tier?: string | null | undefined;
  readonly models?: readonly string[] | undefined;
  readonly disabled?: boolean | undefined;
  readonly rpm_limit?: number | undefined;
  readonly tpm_limit?: number | undefined;
  readonly budgets?: ReadonlyArray<{ readonly usd: number; readonly window: WindowName }> | undefined;
  readonly route_preferences?: readonly BalancePreset[] | undefined;
  readonly allowed_tags?: readonly string[] | undefined;
  readonly debug?: boolean | undefined;
  readonly fallbacks_beyond_models?: boolean | undefined;
}

export function keyFromRecord(r: VirtualKeyRecord): VirtualKey {
  const models = r.models ?? ['*'];
  return {
    name: r.name,
    hash: r.hash,
    team: r.team ?? null,
    tags: r.tags ?? [],
    tier: r.tier ?? null,
    models: models.includes('*') ? null : new Set(models),
    disabled: r.disabled ?? false,
    rpmLimit: r.rpm_limit ?? null,
    tpmLimit: r.tpm_limit ?? null,
    budgets: r.budgets ?? [],
    preferences: r.route_preferences === undefined ? null : new Set(r.route_preferences),
    allowedTags: new Set(r.allowed_tags),
    debug: r.debug ?? false,
    fallbacksBeyondModels: r.fallbacks_beyond_models ?? false,
  };
}

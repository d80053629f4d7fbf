/** A config reload: what applies at once, and what keeps its running value until a restart. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load.js';
import { reloadable } from '../../../src/config/reload.js';

const TEXT = await readFile('examples/router.yaml', 'utf8');
const running = parseConfig(TEXT, 'router.yaml', {});
const edited = (edit: (file: Record<string, any>) => void) => {
  const file = parse(TEXT) as Record<string, any>;
  edit(file);
  return parseConfig(stringify(file), 'router.yaml', {});
};

describe('reloadable', () => {
  it('applies routing changes and keeps listeners, the state store and the body limit, naming each one changed', () => {
    const next = edited((f) => {
      f.server.grpc.port = 50999;
      f.limits = { ...f.limits, max_request_body_bytes: 1024 };
      f.model_groups[0].strategy = 'least-busy';
      f.deployments.shift(); // gpt-4o-mini keeps one deployment
    });
    const { config, restartOnly } = reloadable(running, next);
    expect(restartOnly).toEqual(['server.grpc', 'limits.max_request_body_bytes']);
    expect([config.grpc, config.admin, config.state, config.maxRequestBodyBytes]).toEqual([running.grpc, running.admin, running.state, running.maxRequestBodyBytes]);
    expect(config.groups.get(next.groups.keys().next().value!)!.strategy).toBe('least-busy');
    expect(config.deployments.size).toBe(running.deployments.size - 1);
  });

  it('names nothing when only reloadable settings change', () => {
    expect(reloadable(running, edited((f) => (f.log_level = 'debug'))).restartOnly).toEqual([]);
  });

  it('applies new overload bounds at once (the count of requests awaiting a decision carries over in the pipeline)', () => {
    const { config, restartOnly } = reloadable(running, edited((f) => (f.limits = { ...f.limits, overload: { max_in_flight: 4, protected_tiers: ['premium'] } })));
    expect(restartOnly).toEqual([]);
    expect(config.overload).toMatchObject({ maxInFlight: 4, protectedTiers: new Set(['premium']) });
  });
});

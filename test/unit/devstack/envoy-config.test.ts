/** The benchmark's router under valgrind answers many times slower: its Envoy must wait for every ext_proc message. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/devstack/binaries.js';
import { renderEnvoyConfig } from '../../../src/devstack/envoy-config.js';

const shipped = readFileSync(join(PROJECT_ROOT, 'envoy', 'envoy.yaml'), 'utf8');
const timeouts = (yaml: string) => [...yaml.matchAll(/^\s*(max_message_timeout|message_timeout): (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);

it('messageTimeout sets the message timeout and its bound of every ext_proc filter, the upstream ones too', () => {
  const ports = { listener: 10000, admin: 9901, router: 50051 };
  const before = timeouts(renderEnvoyConfig(shipped, ports, { a: [8080] }));
  const after = timeouts(renderEnvoyConfig(shipped, ports, { a: [8080] }, { messageTimeout: '60s' }));
  expect(before.length).toBeGreaterThanOrEqual(3);
  expect(before.some((t) => !t.endsWith(' 60s'))).toBe(true);
  expect(after).toEqual(before.map((t) => `${t.split(' ')[0]} 60s`));
});

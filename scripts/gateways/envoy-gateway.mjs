// Envoy Gateway for the gateway suite: `envoy-gateway` and its `egctl` built from the Go module proxy
// at the release deploy/envoy-gateway/ is written for, into .tools/envoy-gateway-<version>/ once
// (about ten minutes on two cores), then reused. The tests run Envoy Gateway standalone (file
// provider, host infrastructure) and translate the manifests offline as Kubernetes would have them
// (`egctl x translate`), reading the binaries from ENVOY_GATEWAY_BIN and EGCTL_BIN.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { executable, ROOT } from '../setup.mjs';

export const ENVOY_GATEWAY_VERSION = 'v1.9.1';
const MODULE = 'github.com/envoyproxy/gateway';
const COMMANDS = ['envoy-gateway', 'egctl'];

export async function ensure(env) {
  const bin = join(ROOT, '.tools', `envoy-gateway-${ENVOY_GATEWAY_VERSION}`, 'bin');
  const found = { ENVOY_GATEWAY_BIN: join(bin, 'envoy-gateway'), EGCTL_BIN: join(bin, 'egctl') };
  if (Object.values(found).every(executable)) {
    console.log(`[test:gateways] Envoy Gateway ${ENVOY_GATEWAY_VERSION}: ${bin}`);
    return found;
  }
  console.log(`[test:gateways] building Envoy Gateway ${ENVOY_GATEWAY_VERSION} (${COMMANDS.join(', ')}) from the Go module proxy into ${bin} (about ten minutes the first time)`);
  const started = Date.now();
  const packages = COMMANDS.map((c) => `${MODULE}/cmd/${c}@${ENVOY_GATEWAY_VERSION}`);
  // GOFLAGS replaced: module mode (-mod=mod) whatever the environment sets, e.g. a -mod=vendor meant for another module.
  const r = spawnSync('go', ['install', ...packages], { cwd: ROOT, stdio: 'inherit', env: { ...env, GOBIN: bin, GOFLAGS: '-mod=mod' } });
  if (r.error) throw new Error(`[test:gateways] go: ${r.error.message} (Go ≥ 1.26.7 on PATH builds Envoy Gateway ${ENVOY_GATEWAY_VERSION})`);
  if (r.status !== 0 || !Object.values(found).every(executable)) throw new Error(`[test:gateways] go install ${packages.join(' ')} failed (exit ${r.status ?? r.signal})`);
  console.log(`[test:gateways] built Envoy Gateway ${ENVOY_GATEWAY_VERSION} in ${Math.round((Date.now() - started) / 1000)} s`);
  return found;
}

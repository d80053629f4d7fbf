// Envoy Gateway for the gateway suite: `envoy-gateway` built from the Go module proxy at the release
// deploy/envoy-gateway/ is written for, into .tools/envoy-gateway-<version>/ once (about ten minutes
// on two cores), then reused. The tests run it standalone (file provider, host infrastructure) and
// read the binary from ENVOY_GATEWAY_BIN.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../setup.mjs';

export const ENVOY_GATEWAY_VERSION = 'v1.9.1';
const MODULE = 'github.com/envoyproxy/gateway/cmd/envoy-gateway';

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function ensure(env) {
  const bin = join(ROOT, '.tools', `envoy-gateway-${ENVOY_GATEWAY_VERSION}`, 'bin');
  const gateway = join(bin, 'envoy-gateway');
  if (executable(gateway)) {
    console.log(`[test:gateways] Envoy Gateway ${ENVOY_GATEWAY_VERSION}: ${gateway}`);
    return { ENVOY_GATEWAY_BIN: gateway };
  }
  console.log(`[test:gateways] building Envoy Gateway ${ENVOY_GATEWAY_VERSION} from the Go module proxy into ${bin} (about ten minutes the first time)`);
  const started = Date.now();
  // GOFLAGS replaced: module mode (-mod=mod) whatever the environment sets, e.g. a -mod=vendor meant for another module.
  const r = spawnSync('go', ['install', `${MODULE}@${ENVOY_GATEWAY_VERSION}`], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...env, GOBIN: bin, GOFLAGS: '-mod=mod' },
  });
  if (r.error) throw new Error(`[test:gateways] go: ${r.error.message} (Go ≥ 1.26.7 on PATH builds Envoy Gateway ${ENVOY_GATEWAY_VERSION})`);
  if (r.status !== 0 || !executable(gateway)) throw new Error(`[test:gateways] go install ${MODULE}@${ENVOY_GATEWAY_VERSION} failed (exit ${r.status ?? r.signal})`);
  console.log(`[test:gateways] built Envoy Gateway ${ENVOY_GATEWAY_VERSION} in ${Math.round((Date.now() - started) / 1000)} s`);
  return { ENVOY_GATEWAY_BIN: gateway };
}

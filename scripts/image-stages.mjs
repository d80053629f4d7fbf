// `node scripts/image-stages.mjs`: the Dockerfile's instructions, run without a container engine
// (CI has none), so the image's recipe is tested even where the image cannot be built. Each stage
// gets a directory under a temp dir that stands for its filesystem root; COPY, WORKDIR, ENV and RUN
// act there as they would in the image, from the same build context (.dockerignore honoured).
// Then the last stage's ENTRYPOINT + CMD start with examples/router.yaml at the config path, in a
// network namespace of their own when root (the image's fixed ports then collide with nothing),
// until its HEALTHCHECK passes; SIGTERM must then stop it cleanly. Commands are looked up on the
// image's PATH inside the stage first (Bun, copied in by the Dockerfile), then on the host's, which
// stands for the base image (node, npm, dpkg); the Bun the router starts on must be scripts/setup.mjs's.
// What cannot run outside the image is said, not hidden: `apt-get` lines (the base image's OS
// packages), USER (the host user runs it), and tini when the host lacks it.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join, posix } from 'node:path';
import { BUN_VERSION, MIN_NODE_MAJOR, ROOT } from './setup.mjs';

/** Container paths the smoke run mounts, as `docker run -v` would. */
const MOUNTS = { '/etc/llm-router/router.yaml': join(ROOT, 'examples', 'router.yaml') };
/** The HEALTHCHECK passes within this (npm-free start: a second or two; generous for a loaded CI). */
const HEALTHY_WITHIN_MS = 60_000;
const STOPPED_WITHIN_MS = 30_000;
/** The base image's PATH (Debian's default, which the node images keep). */
const IMAGE_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

class Failed extends Error {}
function fail(message) {
  throw new Failed(message);
}

/** Instructions with continuation lines joined and comments dropped: [{ op, args, line }]. */
function instructions(text) {
  const out = [];
  let pending = '';
  let start = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending === '') start = i + 1;
    pending += (pending === '' ? '' : ' ') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(pending);
    out.push({ op: op.toUpperCase(), args, line: start });
    pending = '';
  }
  return out;
}

/** The top-level names .dockerignore lets into the context (it ignores `*`, then re-includes). */
function contextNames() {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  if (!lines.includes('*')) fail('.dockerignore must start from `*` and re-include what the image needs');
  return new Set(lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
}

/** A stage's environment outside the image: its ENV, and its PATH inside the stage before the host's. */
const stageEnv = (stage) => ({ ...process.env, ...stage.env, PATH: [...IMAGE_PATH.map((d) => join(stage.root, d)), process.env.PATH ?? ''].join(delimiter) });

/** Where `name` resolves on the image's PATH within the stage, or null (then the host's PATH stands for the base image). */
function inStage(stage, name) {
  if (name.includes('/')) return existsSync(join(stage.root, name)) ? join(stage.root, name) : null;
  return IMAGE_PATH.map((d) => join(stage.root, d, name)).find((p) => existsSync(p)) ?? null;
}

const envPairs = (args) => [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S+)/g)].map(([, k, v]) => [k, v.startsWith('"') ? JSON.parse(v) : v]);

function runStages(tmp, dockerfile) {
  const allowed = contextNames();
  const stages = new Map();
  let stage = null;
  for (const { op, args, line } of instructions(dockerfile)) {
    const at = `Dockerfile:${line} ${op}`;
    const onHost = (p) => join(stage.root, posix.resolve(stage.workdir, p));
    switch (op) {
      case 'FROM': {
        const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
        const major = /^node:(\d+)\./.exec(image)?.[1];
        if (Number(major) !== MIN_NODE_MAJOR) fail(`${at}: ${image} is not Node ${MIN_NODE_MAJOR}, the Node the suite runs (scripts/setup.mjs)`);
        stage = { name, image, root: join(tmp, name ?? String(stages.size)), workdir: '/', env: {}, user: null, healthcheck: null, entrypoint: [], cmd: [] };
        mkdirSync(stage.root, { recursive: true });
        stages.set(stage.name, stage);
        console.log(`[image-stages] stage ${name} (${image}) in ${stage.root}`);
        break;
      }
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, args);
        mkdirSync(onHost('.'), { recursive: true });
        break;
      case 'COPY': {
        const words = args.split(/\s+/);
        const from = words[0].startsWith('--from=') ? stages.get(words.shift().slice('--from='.length)) : null;
        const dest = words.pop();
        for (const src of words) {
          if (from === null && !allowed.has(src.split('/')[0])) fail(`${at}: ${src} is outside the build context (.dockerignore)`);
          const source = from === null ? join(ROOT, src) : join(from.root, src);
          if (!existsSync(source)) fail(`${at}: ${src} does not exist`);
          const target = dest.endsWith('/') ? join(onHost(dest), basename(src)) : onHost(dest);
          cpSync(source, target, { recursive: true, verbatimSymlinks: true });
        }
        break;
      }
      case 'ENV':
        for (const [k, v] of envPairs(args)) stage.env[k] = v;
        break;
      case 'RUN':
        if (/^apt-get\b/.test(args)) {
          console.log(`[image-stages] ${at} skipped (the base image's OS packages): ${args}`);
          break;
        }
        // Here a RUN acts on the host: an absolute path would reach outside the stage's root.
        if (/(^|[\s=<>"'(])\/(?!dev\/)/.test(args)) fail(`${at}: names an absolute path, which outside a container is the host's; work relative to WORKDIR`);
        console.log(`[image-stages] ${at}: ${args}`);
        if (spawnSync('sh', ['-c', args], { cwd: onHost('.'), env: stageEnv(stage), stdio: 'inherit' }).status !== 0) fail(`${at} failed: ${args}`);
        break;
      case 'USER':
        stage.user = args;
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4));
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = JSON.parse(args);
        break;
      case 'CMD':
        stage.cmd = JSON.parse(args);
        break;
      case 'EXPOSE':
        break;
      default:
        fail(`${at}: not one of the instructions this script runs (see its header)`);
    }
  }
  return { runtime: stage };
}

/** The program the ENTRYPOINT runs the router with (after tini's `--`). */
const routerRuntime = (runtime) => runtime.entrypoint.slice(runtime.entrypoint.indexOf('--') + 1)[0];

/** What the image must hold: the router on the pinned Bun, no dev dependency, a non-root user, a health check. */
function checkRuntime(runtime) {
  const program = routerRuntime(runtime);
  if (program === undefined || basename(program) !== 'bun') fail(`the ENTRYPOINT must run the router on bun (has ${JSON.stringify(runtime.entrypoint)})`);
  const bun = inStage(runtime, program);
  if (bun === null) fail(`the runtime stage has no ${program} on its PATH`);
  const version = spawnSync(bun, ['--version'], { encoding: 'utf8' }).stdout?.trim();
  if (version !== BUN_VERSION) fail(`the runtime stage's Bun is ${version}, not ${BUN_VERSION} (scripts/setup.mjs BUN_VERSION)`);
  console.log(`[image-stages] the router runs on Bun ${version} (${bun})`);
  for (const dev of ['typescript', 'vitest', '@bufbuild/buf']) {
    if (existsSync(join(runtime.root, 'app', 'node_modules', dev))) fail(`the runtime stage holds the dev dependency ${dev}`);
  }
  if (runtime.user === null || /^(0|root)\b/.test(runtime.user)) fail(`the runtime stage must run as a non-root USER (has ${runtime.user})`);
  if (runtime.healthcheck === null) fail('the runtime stage has no HEALTHCHECK');
}

const onPath = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
const mapped = (arg) => MOUNTS[arg] ?? arg;

/** The ENTRYPOINT + CMD, started as the container would start it: returns the child and how to run a command beside it. */
function start(runtime) {
  let argv = [...runtime.entrypoint, ...runtime.cmd].map(mapped);
  if (basename(argv[0]) === 'tini' && !onPath('tini')) {
    console.log('[image-stages] tini is not on this host: the router runs as the direct child instead');
    argv = argv.slice(argv.indexOf('--') + 1);
  }
  const env = { ...stageEnv(runtime), LLM_ROUTER_ADMIN_TOKEN: 'image-stages' };
  const cwd = join(runtime.root, runtime.workdir);
  const isolated = process.getuid?.() === 0 && onPath('unshare') && onPath('nsenter') && onPath('ip');
  if (!isolated) console.log('[image-stages] not root (or no unshare/nsenter/ip): the router uses the host network, its ports must be free');
  const child = isolated
    ? spawn('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...argv], { cwd, env, stdio: 'inherit' })
    : spawn(argv[0], argv.slice(1), { cwd, env, stdio: 'inherit' });
  const beside = (cmd) => (isolated ? spawnSync('nsenter', [`--net=/proc/${child.pid}/ns/net`, '--', ...cmd], { cwd, env }) : spawnSync(cmd[0], cmd.slice(1), { cwd, env }));
  console.log(`[image-stages] started: ${argv.join(' ')}`);
  return { child, beside };
}

async function smoke(runtime) {
  const { child, beside } = start(runtime);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let ended = null;
  void exited.then((e) => (ended = e));
  try {
    const deadline = Date.now() + HEALTHY_WITHIN_MS;
    while (beside(runtime.healthcheck).status !== 0) {
      if (ended !== null) fail(`the router exited before its HEALTHCHECK passed (${JSON.stringify(ended)})`);
      if (Date.now() > deadline) fail(`HEALTHCHECK did not pass within ${HEALTHY_WITHIN_MS} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log('[image-stages] HEALTHCHECK passed; sending SIGTERM');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOPPED_WITHIN_MS);
    const { code, signal } = await exited;
    clearTimeout(timer);
    if (code !== 0) fail(`after SIGTERM the router exited with ${code ?? signal}, not 0`);
  } finally {
    if (ended === null && child.exitCode === null) child.kill('SIGKILL');
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'llmr-image-'));
try {
  const { runtime } = runStages(tmp, readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  checkRuntime(runtime);
  await smoke(runtime);
  console.log('[image-stages] the image recipe builds, starts healthy and stops on SIGTERM');
} catch (err) {
  if (!(err instanceof Failed)) throw err;
  console.error(`[image-stages] ${err.message}`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

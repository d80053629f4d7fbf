#!/usr/bin/env node
/**
 * llm-router — the CLI.
 *   serve -c router.yaml            run the ext_proc router
 *   validate FILE...                check router.yaml files; every problem with its YAML path
 *   check-envoy -c router.yaml [F]  check an envoy.yaml (or, with --admin URL, a running Envoy) against router.yaml
 *   mock-provider -c mock.yaml      run mock OpenAI-compatible providers
 *   demo                            Envoy + router + mock providers with the bundled example config
 *   schema                          router.yaml's JSON Schema (router.schema.json is its output)
 */
import { parseArgs } from 'node:util';
import { checkEnvoyAdmin, checkEnvoyFile, ConfigError, formatProblem, loadConfig } from './config/load.js';
import { startMockProviders } from './mock/server.js';
import { serve } from './serve.js';

const USAGE = `usage: llm-router <command> [options]

  serve -c FILE           run the ext_proc router with FILE (router.yaml)
  validate FILE...        validate router.yaml files; exit 1 if any has a problem
  check-envoy -c FILE [ENVOY_YAML | --admin URL]
                          check ENVOY_YAML (default envoy/envoy.yaml), or the config a running
                          Envoy serves (its admin URL: static and xDS), against router.yaml FILE:
                          deployment clusters and matcher entries, ext_proc settings, retries;
                          exit 1 if it has an error (warnings alone exit 0)
  mock-provider -c FILE   run the mock providers listed in FILE
  demo                    run Envoy, the router and mock providers with the bundled example
  schema                  print router.yaml's JSON Schema (for editors and CI)`;

async function validate(files: string[]): Promise<number> {
  if (files.length === 0) {
    console.error(USAGE);
    return 2;
  }
  let failed = 0;
  for (const file of files) {
    try {
      const config = await loadConfig(file);
      console.log(`${file}: OK (${config.groups.size} model groups, ${config.deployments.size} deployments)`);
    } catch (err) {
      failed++;
      if (err instanceof ConfigError) for (const p of err.problems) console.error(formatProblem(file, p));
      else console.error(`${file}: ${(err as Error).message}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

/** `envoy`: an envoy.yaml, or a running Envoy's admin URL. */
async function checkEnvoy(routerFile: string, envoy: { readonly file: string } | { readonly admin: string }): Promise<number> {
  const router = await loadConfig(routerFile);
  const source = 'file' in envoy ? envoy.file : envoy.admin;
  const problems = 'file' in envoy ? await checkEnvoyFile(envoy.file, router) : await checkEnvoyAdmin(envoy.admin, router);
  for (const p of problems) console.error(formatProblem(source, { ...p, message: `${p.level}: ${p.message}` }));
  const errors = problems.filter((p) => p.level === 'error').length;
  const summary = `${source}: ${errors === 0 ? 'fits' : 'does not fit'} ${routerFile} (${router.deployments.size} deployments): ${errors} errors, ${problems.length - errors} warnings`;
  (errors === 0 ? console.log : console.error)(summary);
  return errors === 0 ? 0 : 1;
}

async function mockProvider(file: string): Promise<void> {
  const instances = await startMockProviders(file);
  for (const i of instances) console.log(JSON.stringify({ msg: 'mock provider listening', name: i.name, port: i.port }));
  const stop = (): void => void Promise.all(instances.map((i) => i.close())).then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function main(argv: string[]): Promise<number | null> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, admin: { type: 'string' } } });
  switch (command) {
    case 'serve':
      if (values.config === undefined) break;
      await serve(values.config);
      return null;
    case 'validate':
      return validate([...(values.config === undefined ? [] : [values.config]), ...positionals]);
    case 'check-envoy':
      if (values.config === undefined || positionals.length > (values.admin === undefined ? 1 : 0)) break;
      return checkEnvoy(values.config, values.admin === undefined ? { file: positionals[0] ?? 'envoy/envoy.yaml' } : { admin: values.admin });
    case 'mock-provider':
      if (values.config === undefined) break;
      await mockProvider(values.config);
      return null;
    case 'schema': {
      const { routerJsonSchema } = await import('./config/json-schema.js');
      console.log(JSON.stringify(routerJsonSchema(), null, 2));
      return 0;
    }
    case 'demo': {
      const { runDemo } = await import('./devstack/demo.js');
      await runDemo();
      return null;
    }
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  },
);

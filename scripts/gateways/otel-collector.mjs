// An OpenTelemetry Collector for test/gateways/tracing.test.ts: the OTLP receiver and the OTLP/HTTP
// exporter of the collector's core, nothing else, built with the collector's own builder (ocb) from
// the Go module proxy into .tools/otelcol-<version>/, once per version. The core distribution
// (otelcorecol) is not published as a module. The test reads what the collector exports as OTLP
// JSON on a port of its own. The contrib file exporter was tried: its test dependencies include a
// module version the proxy refuses (otlpencodingextension v0.165.0, 403), and the builder's
// `go mod tidy` needs them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../setup.mjs';

export const OTELCOL_VERSION = '0.165.0';
const BUILDER = `go.opentelemetry.io/collector/cmd/builder@v${OTELCOL_VERSION}`;

function log(line) {
  console.log(`[test:gateways] ${line}`);
}

function manifest(outputPath) {
  return `dist:
  name: otelcol
  description: OTLP in and out, for the tracing test
  output_path: ${outputPath}
  version: ${OTELCOL_VERSION}
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v${OTELCOL_VERSION}
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/otlphttpexporter v${OTELCOL_VERSION}
`;
}

export async function ensure(env) {
  const home = join(ROOT, '.tools', `otelcol-${OTELCOL_VERSION}`);
  const tools = { OTELCOL_BIN: join(home, 'otelcol') };
  if (existsSync(tools.OTELCOL_BIN)) {
    log(`otelcol ${OTELCOL_VERSION}: ${tools.OTELCOL_BIN}`);
    return tools;
  }
  if (spawnSync('go', ['version'], { env }).status !== 0) {
    throw new Error('[test:gateways] Building the OpenTelemetry Collector needs Go on PATH (https://go.dev/dl/).');
  }
  log(`building otelcol ${OTELCOL_VERSION} (OTLP receiver and exporter) with ${BUILDER} (several minutes on 2 cores, once)`);
  const src = join(home, 'src');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  const manifestPath = join(home, 'builder.yaml');
  writeFileSync(manifestPath, manifest(src));
  const r = spawnSync('go', ['run', BUILDER, '--config', manifestPath], { cwd: home, env: { ...env, CGO_ENABLED: '0' }, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`[test:gateways] building otelcol failed (exit ${r.status ?? r.signal ?? r.error?.message})`);
  const built = join(src, 'otelcol');
  if (!existsSync(built)) throw new Error(`[test:gateways] the builder left no binary at ${built}`);
  spawnSync('mv', [built, tools.OTELCOL_BIN]);
  rmSync(src, { recursive: true, force: true });
  log(`otelcol ready: ${tools.OTELCOL_BIN}`);
  return tools;
}

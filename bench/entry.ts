/** What every `npm run bench` mode does at its edges: run as the entry point, write its results. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Runs `main` when `file` (e.g. `run.js`) is the script Node was started with, so tests can import
 * a mode's pieces without running it; a failure prints and exits 1.
 */
export function runAsEntryPoint(file: string, main: () => Promise<void>): void {
  if (!process.argv[1]?.endsWith(file)) return;
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

/** DIR/results.md (and DIR/results.json when given), the report printed with where it went. */
export async function writeResults(out: string, markdown: string, json?: unknown): Promise<void> {
  await mkdir(out, { recursive: true });
  if (json !== undefined) await writeFile(join(out, 'results.json'), JSON.stringify(json, null, 2));
  await writeFile(join(out, 'results.md'), markdown);
  process.stdout.write(`\n${markdown}\nResults in ${out}\n`);
}

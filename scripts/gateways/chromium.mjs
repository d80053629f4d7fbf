// Headless Chromium for test/gateways/console.test.ts (the operator console in a real browser, driven
// by playwright-core): Debian's `chromium` package, installed with apt-get when missing, as setup.mjs
// installs redis-server. CHROMIUM_BIN set by the caller wins.
import { execFileSync } from 'node:child_process';
import { aptInstall } from '../setup.mjs';

export async function ensure(env) {
  if (env.CHROMIUM_BIN) return { CHROMIUM_BIN: env.CHROMIUM_BIN };
  if (!aptInstall('chromium', 'chromium')) {
    throw new Error('[test:gateways] The console test needs Chromium: install it (Debian/Ubuntu: apt-get install chromium), or set CHROMIUM_BIN.');
  }
  const bin = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  console.log(`[test:gateways] chromium: ${bin}`);
  return { CHROMIUM_BIN: bin };
}

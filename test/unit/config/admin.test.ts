/** server.admin: who may use the admin API — a token, an explicit opening, or nobody. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import { ROUTER_YAML } from '../../support/fixtures.js';

const withAdmin = (admin: string, env: NodeJS.ProcessEnv = {}) => parseConfig(`${ROUTER_YAML}\nserver:\n  admin: ${admin}\n`, 'router.yaml', env).admin;

describe('server.admin', () => {
  it('is closed by default: no token, not open, no host names beyond IPs and localhost', () => {
    expect(parseConfig(ROUTER_YAML, 'router.yaml', {}).admin).toEqual({ address: '127.0.0.1', port: 9090, token: null, open: false, allowedHosts: [] });
  });

  it('takes its token from the environment, or opens only when told to', () => {
    expect(withAdmin('{token_env: ADMIN_TOKEN, allowed_hosts: [router-admin.svc]}', { ADMIN_TOKEN: 't0ken' })).toMatchObject({ token: { env: 'ADMIN_TOKEN', value: 't0ken' }, open: false, allowedHosts: ['router-admin.svc'] });
    expect(withAdmin('{open: true}')).toMatchObject({ token: null, open: true });
  });

  it('refuses a token together with open, and a host name with a port', () => {
    const problems = (admin: string) => {
      try {
        withAdmin(admin);
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
        throw err;
      }
      return [];
    };
    expect(problems('{token_env: ADMIN_TOKEN, open: true}')).toEqual(['server.admin.open: set token_env or open: true, not both']);
    expect(problems('{allowed_hosts: ["admin.svc:9090"]}')).toEqual(['server.admin.allowed_hosts[0]: must be a host name, without port']);
  });
});

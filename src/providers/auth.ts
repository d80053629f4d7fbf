/**
 * How a deployment's credential reaches its provider, and which headers may never pass from a
 * client: every header a provider reads a key from, whichever style a deployment uses, since a
 * client sends its virtual key in one of them.
 */
import type { AuthStyle, HeaderPair } from './adapter.js';

export const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key'] as const;

/** The header `style` carries a credential in, or null. */
export function credentialHeaderOf(style: AuthStyle): (typeof CREDENTIAL_HEADERS)[number] | null {
  switch (style) {
    case 'bearer':
      return 'authorization';
    case 'api-key':
      return 'api-key';
    case 'x-api-key':
      return 'x-api-key';
    case 'goog-api-key':
      return 'x-goog-api-key';
    case 'aws-sigv4':
    case 'none':
      return null;
  }
}

/** The header that carries `credential` in `style`; none without a credential. */
export function credentialHeader(style: AuthStyle, credential: string | null): HeaderPair | null {
  const name = credentialHeaderOf(style);
  if (name === null || credential === null) return null;
  return [name, name === 'authorization' ? `Bearer ${credential}` : credential];
}

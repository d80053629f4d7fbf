/**
 * AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
 * for Bedrock's runtime API, and its verification (the strict mock recomputes every signature with
 * the same code, so signer and verifier cannot drift apart).
 *
 *   canonical request = method \n canonical URI \n canonical query \n canonical headers \n
 *                       signed header names \n hex(sha256(payload))
 *   string to sign    = AWS4-HMAC-SHA256 \n amz-date \n date/region/service/aws4_request \n hex(sha256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
 *   signature         = hex(HMAC(signing key, string to sign))
 *
 * Services other than S3 escape the path once more for the canonical URI: a model id's `:` travels
 * as `%3A` and is signed as `%253A`, as the AWS SDKs do. The clock is a parameter; nothing here
 * reads the time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials (STS, an IAM role): sent and signed as `x-amz-security-token`. */
  readonly sessionToken?: string;
}

export interface SignatureScope {
  readonly region: string;
  readonly service: string;
}

export type HeaderPair = readonly [name: string, value: string];

/** What a signature covers. `headers`: every header signed (names in any case; `host` among them). */
export interface CanonicalInput {
  readonly method: string;
  /** The path as it travels (already percent-encoded), without the query. */
  readonly path: string;
  /** The query as it travels (`a=1&b=2`), or empty. */
  readonly query: string;
  readonly headers: readonly HeaderPair[];
  /** hex(sha256(body)), or the `x-amz-content-sha256` value signed in its place. */
  readonly payloadHash: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

export const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 escaping as SigV4 defines it: everything but `A-Za-z0-9-_.~`, uppercase hex. */
export function awsUriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `20150830T123600Z` for a time in ms since the epoch. */
export function amzDate(nowMs: number): string {
  return new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

const canonicalUri = (path: string): string => (path === '' ? '/' : path.split('/').map(awsUriEncode).join('/'));

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query.split('&').map((p) => {
    const eq = p.indexOf('=');
    const decode = (s: string) => awsUriEncode(decodeURIComponent(s.replace(/\+/g, ' ')));
    return eq === -1 ? [decode(p), ''] : [decode(p.slice(0, eq)), decode(p.slice(eq + 1))];
  });
  pairs.sort(([ak, av], [bk, bv]) => (ak! < bk! ? -1 : ak! > bk! ? 1 : av! < bv! ? -1 : av! > bv! ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Lowercased names, sorted; a repeated header's values joined by `,`; values trimmed, inner runs of spaces collapsed. */
function canonicalHeaders(headers: readonly HeaderPair[]): { block: string; signed: string } {
  const byName = new Map<string, string>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    const v = value.trim().replace(/\s+/g, ' ');
    const prior = byName.get(key);
    byName.set(key, prior === undefined ? v : `${prior},${v}`);
  }
  const names = [...byName.keys()].sort();
  return { block: names.map((n) => `${n}:${byName.get(n)}\n`).join(''), signed: names.join(';') };
}

export function canonicalRequest(input: CanonicalInput): { text: string; signedHeaders: string } {
  const { block, signed } = canonicalHeaders(input.headers);
  return {
    text: `${input.method}\n${canonicalUri(input.path)}\n${canonicalQuery(input.query)}\n${block}\n${signed}\n${input.payloadHash}`,
    signedHeaders: signed,
  };
}

const credentialScope = (date: string, scope: SignatureScope): string => `${date.slice(0, 8)}/${scope.region}/${scope.service}/aws4_request`;

export function stringToSign(canonical: string, date: string, scope: SignatureScope): string {
  return `${ALGORITHM}\n${date}\n${credentialScope(date, scope)}\n${sha256Hex(canonical)}`;
}

export function signingKey(secretAccessKey: string, date: string, scope: SignatureScope): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, date.slice(0, 8)), scope.region), scope.service), 'aws4_request');
}

/** The hex signature of `input` at `date` (`amzDate` form). */
export function signatureOf(input: CanonicalInput, date: string, secretAccessKey: string, scope: SignatureScope): { signature: string; signedHeaders: string } {
  const { text, signedHeaders } = canonicalRequest(input);
  return { signature: createHmac('sha256', signingKey(secretAccessKey, date, scope)).update(stringToSign(text, date, scope), 'utf8').digest('hex'), signedHeaders };
}

/** The `Authorization` value for `input` signed at `date`; `input.headers` must hold `x-amz-date: date`. */
export function authorizationOf(input: CanonicalInput, date: string, credentials: AwsCredentials, scope: SignatureScope): string {
  const { signature, signedHeaders } = signatureOf(input, date, credentials.secretAccessKey, scope);
  return `${ALGORITHM} Credential=${credentials.accessKeyId}/${credentialScope(date, scope)}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

export interface SignRequest {
  readonly method: string;
  readonly host: string;
  /** As it travels, percent-encoded (`/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse`). */
  readonly path: string;
  readonly body: Buffer;
  /** Other headers to sign (`content-type`, `accept`); they must reach the provider unchanged. */
  readonly headers?: readonly HeaderPair[];
}

/**
 * The headers to add to a request so AWS accepts it: `x-amz-date`, `x-amz-content-sha256`,
 * `x-amz-security-token` (temporary credentials) and `authorization`. `host` and the given headers
 * are signed too; the request must carry them as given.
 */
export function signRequest(req: SignRequest, credentials: AwsCredentials, scope: SignatureScope, nowMs: number): HeaderPair[] {
  const date = amzDate(nowMs);
  const payloadHash = sha256Hex(req.body);
  const added: HeaderPair[] = [
    ['x-amz-date', date],
    ['x-amz-content-sha256', payloadHash],
  ];
  if (credentials.sessionToken !== undefined) added.push(['x-amz-security-token', credentials.sessionToken]);
  const input: CanonicalInput = { method: req.method, path: req.path, query: '', headers: [['host', req.host], ...(req.headers ?? []), ...added], payloadHash };
  added.push(['authorization', authorizationOf(input, date, credentials, scope)]);
  return added;
}

/** Why AWS refuses a signature, in the words of its `InvalidSignatureException` and kin. */
export type VerifyFailure =
  | { readonly error: 'MissingAuthenticationTokenException'; readonly message: string }
  | { readonly error: 'IncompleteSignatureException'; readonly message: string }
  | { readonly error: 'UnrecognizedClientException'; readonly message: string }
  | { readonly error: 'InvalidSignatureException'; readonly message: string };

export interface VerifyRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** Lowercase names, as node gives them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** How far a request's `x-amz-date` may be from the verifier's clock, as AWS allows. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/;
const DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Whether `req` carries a valid signature by `credentials` for `scope`, at most MAX_CLOCK_SKEW_MS
 * from `nowMs`: null, or what AWS answers. The payload hash is the body's: a request whose
 * `x-amz-content-sha256` does not match its body is refused.
 */
export function verifyRequest(req: VerifyRequest, credentials: AwsCredentials, scope: SignatureScope, nowMs: number): VerifyFailure | null {
  const authorization = req.headers.authorization;
  if (authorization === undefined || authorization === '') return { error: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const m = AUTHORIZATION.exec(authorization);
  if (m === null) {
    return { error: 'IncompleteSignatureException', message: `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters for ${ALGORITHM}.` };
  }
  const [, keyId, day, region, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (keyId !== credentials.accessKeyId) return { error: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  const date = req.headers['x-amz-date'] ?? '';
  const parts = DATE.exec(date);
  if (parts === null) return { error: 'IncompleteSignatureException', message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header." };
  const names = signedHeaders.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) return { error: 'InvalidSignatureException', message: "'Host' and 'X-Amz-Date' must be signed." };
  if (credentials.sessionToken !== undefined && req.headers['x-amz-security-token'] !== credentials.sessionToken) {
    return { error: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  }
  if (day !== date.slice(0, 8) || region !== scope.region || service !== scope.service) {
    return { error: 'InvalidSignatureException', message: `Credential should be scoped to a valid region and service: '${date.slice(0, 8)}/${scope.region}/${scope.service}'.` };
  }
  const [, y, mo, d, h, mi, s] = parts.map(Number) as [number, number, number, number, number, number, number];
  const signedAtMs = Date.UTC(y, mo - 1, d, h, mi, s);
  if (Math.abs(signedAtMs - nowMs) > MAX_CLOCK_SKEW_MS) {
    return { error: 'InvalidSignatureException', message: `Signature expired: ${date} is now earlier than ${amzDate(nowMs - MAX_CLOCK_SKEW_MS)} (${amzDate(nowMs)} - 5 min.)` };
  }
  const payloadHash = sha256Hex(req.body);
  const declared = req.headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== payloadHash) {
    return { error: 'InvalidSignatureException', message: 'The provided x-amz-content-sha256 header does not match what was computed.' };
  }
  const headers: HeaderPair[] = [];
  for (const name of names) {
    const value = req.headers[name];
    if (value === undefined) return { error: 'InvalidSignatureException', message: `Signed header '${name}' is missing.` };
    headers.push([name, value]);
  }
  const expected = signatureOf({ method: req.method, path: req.path, query: req.query, headers, payloadHash }, date, credentials.secretAccessKey, scope).signature;
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return {
      error: 'InvalidSignatureException',
      message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    };
  }
  return null;
}

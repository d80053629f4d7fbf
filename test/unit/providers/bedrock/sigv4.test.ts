/**
 * SigV4 against AWS's published test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html,
 * as vendored by the AWS SDKs: credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z, us-east-1, service
 * `service`), then the Bedrock signer and the verifier the mock uses, against each other.
 */
import { describe, expect, it } from 'vitest';
import {
  amzDate,
  authorizationOf,
  canonicalRequest,
  sha256Hex,
  signRequest,
  stringToSign,
  verifyRequest,
  type AwsCredentials,
  type CanonicalInput,
  type HeaderPair,
} from '../../../../src/providers/bedrock/sigv4.js';

const SUITE_CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const SUITE_SCOPE = { region: 'us-east-1', service: 'service' };
const SUITE_NOW = Date.UTC(2015, 7, 30, 12, 36, 0);
const SUITE_DATE = '20150830T123600Z';
const CREDENTIAL = 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request';
const STS_TOKEN =
  'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';

const suiteInput = (headers: HeaderPair[], body = ''): CanonicalInput => ({
  method: 'POST',
  path: '/',
  query: '',
  headers: [['Host', 'example.amazonaws.com'], ['X-Amz-Date', SUITE_DATE], ...headers],
  payloadHash: sha256Hex(body),
});

describe('SigV4: AWS test suite', () => {
  it('formats the signing time', () => {
    expect(amzDate(SUITE_NOW)).toBe(SUITE_DATE);
  });

  it('post-vanilla: canonical request, string to sign, signature', () => {
    const input = suiteInput([]);
    const { text } = canonicalRequest(input);
    expect(text).toBe('POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(stringToSign(text, SUITE_DATE, SUITE_SCOPE)).toBe(
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87',
    );
    expect(authorizationOf(input, SUITE_DATE, SUITE_CREDENTIALS, SUITE_SCOPE)).toBe(
      `${CREDENTIAL}, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b`,
    );
  });

  it('post-header-value-case: values keep their case, names are lowercased', () => {
    expect(authorizationOf(suiteInput([['My-Header1', 'VALUE1']]), SUITE_DATE, SUITE_CREDENTIALS, SUITE_SCOPE)).toBe(
      `${CREDENTIAL}, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d`,
    );
  });

  it('post-x-www-form-urlencoded: a body is hashed into the signature', () => {
    const input = suiteInput([['Content-Type', 'application/x-www-form-urlencoded']], 'Param1=value1');
    expect(stringToSign(canonicalRequest(input).text, SUITE_DATE, SUITE_SCOPE)).toBe(
      'AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281',
    );
    expect(authorizationOf(input, SUITE_DATE, SUITE_CREDENTIALS, SUITE_SCOPE)).toBe(
      `${CREDENTIAL}, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a`,
    );
  });

  it('post-sts-header-before: a session token is signed', () => {
    expect(authorizationOf(suiteInput([['X-Amz-Security-Token', STS_TOKEN]]), SUITE_DATE, SUITE_CREDENTIALS, SUITE_SCOPE)).toBe(
      `${CREDENTIAL}, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead`,
    );
  });
});

describe('SigV4 for Bedrock: signer and verifier', () => {
  const credentials: AwsCredentials = { accessKeyId: 'AKIAMOCK', secretAccessKey: 'mock-secret' };
  const scope = { region: 'eu-west-1', service: 'bedrock' };
  const host = 'bedrock-runtime.eu-west-1.amazonaws.com';
  const path = `/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/converse`;
  const body = Buffer.from('{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}');
  const now = Date.UTC(2026, 0, 2, 3, 4, 5);

  const signed = (creds: AwsCredentials = credentials, at = now, b = body): Record<string, string> => {
    const headers: Record<string, string> = { host, 'content-type': 'application/json' };
    for (const [k, v] of signRequest({ method: 'POST', host, path, body: b, headers: [['content-type', 'application/json']] }, creds, scope, at)) headers[k] = v;
    return headers;
  };
  const verify = (headers: Record<string, string>, opts: { body?: Buffer; path?: string; creds?: AwsCredentials; at?: number } = {}) =>
    verifyRequest({ method: 'POST', path: opts.path ?? path, query: '', headers, body: opts.body ?? body }, opts.creds ?? credentials, scope, opts.at ?? now);

  it('signs host, content type, date and payload hash; the model id is signed escaped twice', () => {
    const headers = signed();
    expect(headers['x-amz-date']).toBe('20260102T030405Z');
    expect(headers['x-amz-content-sha256']).toBe(sha256Hex(body));
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIAMOCK\/20260102\/eu-west-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(path).toContain('%3A0');
    expect(canonicalRequest({ method: 'POST', path, query: '', headers: [], payloadHash: '' }).text.split('\n')[1]).toBe('/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse');
    expect(verify(headers)).toBeNull();
  });

  it('signs and checks a session token', () => {
    const temporary = { ...credentials, sessionToken: 'session/token+=' };
    const headers = signed(temporary);
    expect(headers['x-amz-security-token']).toBe('session/token+=');
    expect(headers.authorization).toContain('SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
    expect(verify(headers, { creds: temporary })).toBeNull();
    expect(verify({ ...headers, 'x-amz-security-token': 'other' }, { creds: temporary })?.error).toBe('UnrecognizedClientException');
  });

  it('refuses a changed body, path, header or secret, an unknown key, and a missing signature', () => {
    const headers = signed();
    expect(verify(headers, { body: Buffer.from('{"messages":[]}') })?.error).toBe('InvalidSignatureException');
    expect(verify(headers, { path: '/model/other/converse' })?.message).toMatch(/does not match the signature you provided/);
    expect(verify({ ...headers, 'content-type': 'text/plain' })?.error).toBe('InvalidSignatureException');
    expect(verify(signed({ ...credentials, secretAccessKey: 'wrong' }))?.error).toBe('InvalidSignatureException');
    expect(verify(signed({ ...credentials, accessKeyId: 'AKIAOTHER' }))?.error).toBe('UnrecognizedClientException');
    const { authorization: __, ...unsigned } = headers;
    expect(verify(unsigned)?.error).toBe('MissingAuthenticationTokenException');
    expect(verify({ ...headers, authorization: 'Bearer abc' })?.error).toBe('IncompleteSignatureException');
  });

  it('refuses a signature more than 5 minutes from the clock, and one scoped to another region', () => {
    expect(verify(signed(credentials, now - 5 * 60_000))).toBeNull();
    expect(verify(signed(credentials, now - 5 * 60_000 - 1000))?.message).toMatch(/^Signature expired: 20260102T025904Z is now earlier than 20260102T025905Z/);
    expect(verify(signed(credentials, now + 6 * 60_000))?.error).toBe('InvalidSignatureException');
    const other = signRequest({ method: 'POST', host, path, body }, credentials, { region: 'us-east-1', service: 'bedrock' }, now);
    expect(verify({ host, ...Object.fromEntries(other) })?.message).toMatch(/scoped to a valid region/);
  });
});

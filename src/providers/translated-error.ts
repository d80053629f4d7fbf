/**
 * A provider error in OpenAI's format, and what it means to the router. Each translating provider
 * (anthropic/, bedrock/, gemini/) keeps only its own table of error specs in its errors.ts; the
 * shapes, the reading of an unknown status and the body the client gets are the same for all.
 */

/** What a provider error means to the router: rate_limited, overloaded and server_error are retriable. */
export type ErrorKind = 'invalid_request' | 'context_window' | 'content_policy' | 'auth' | 'rate_limited' | 'overloaded' | 'server_error';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: null; code: string | null };
}

export interface TranslatedError {
  /** The status the client gets. */
  readonly status: number;
  readonly kind: ErrorKind;
  readonly body: OpenAiErrorBody;
}

/** One row of a provider's table. */
export interface ErrorSpec {
  /** The provider's status for it, which a stream's error event does not carry. */
  readonly status: number;
  readonly kind: ErrorKind;
  /** OpenAI's `error.type` and `error.code`. */
  readonly type: string;
  readonly code: string | null;
}

/** The rows of a provider's table that serve an error read only by its status (a type added later, a proxy's page). */
export interface StatusSpecs {
  readonly invalid: ErrorSpec;
  readonly auth: ErrorSpec;
  readonly rateLimited: ErrorSpec;
  readonly overloaded: ErrorSpec;
  readonly server: ErrorSpec;
}

const withStatus = (spec: ErrorSpec, status: number): ErrorSpec => (spec.status === status ? spec : { ...spec, status });

/** The spec for an error known only by its HTTP `status`. */
export function specOfStatus(status: number, specs: StatusSpecs): ErrorSpec {
  if (status === 429) return specs.rateLimited;
  if (status === 503) return withStatus(specs.overloaded, status);
  if (status === 401 || status === 403) return withStatus(specs.auth, status);
  if (status >= 500) return withStatus(specs.server, status);
  return withStatus(specs.invalid, status >= 400 ? status : 400);
}

/**
 * The error the client gets: `status` its status, `message` the provider's (else one naming
 * `answered`, the status the provider answered with).
 */
export function translatedError(status: number, spec: ErrorSpec, message: string | null, answered: number): TranslatedError {
  return {
    status,
    kind: spec.kind,
    body: { error: { message: message ?? `The provider answered with status ${answered}.`, type: spec.type, param: null, code: spec.code } },
  };
}

/** OpenAI's own codes for the refusals another deployment may serve (fallback-reason.ts): every provider's message wording maps to these. */
export const CONTEXT_WINDOW: ErrorSpec = { status: 400, kind: 'context_window', type: 'invalid_request_error', code: 'context_length_exceeded' };
export const CONTENT_FILTER: ErrorSpec = { status: 400, kind: 'content_policy', type: 'invalid_request_error', code: 'content_filter' };

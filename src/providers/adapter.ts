/**
 * What the router needs of a provider's API, one implementation per wire format
 * (`providers/<name>/adapter.ts`, listed in `providers/registry.ts`). The pipeline speaks to
 * providers only through this: adding a provider touches its own folder and one registry line.
 */
import type { FallbackReason } from '../routing/plan.js';
import type { Call, ProviderLimits } from '../routing/types.js';
import type { ClientApi } from './client-apis.js';
import type { ResponseObserver } from './openai/response.js';

export type HeaderPair = readonly [name: string, value: string];

/** How a deployment's credential travels; `aws-sigv4`: each attempt is signed (`signerFor`). */
export type AuthStyle = 'bearer' | 'api-key' | 'x-api-key' | 'goog-api-key' | 'aws-sigv4' | 'none';
export const AUTH_STYLES = ['bearer', 'api-key', 'x-api-key', 'goog-api-key', 'aws-sigv4', 'none'] as const satisfies readonly AuthStyle[];

/** AWS credentials and where they sign for. */
export interface AwsSettings {
  readonly region: string;
  /** The host the request is signed for, and sent to (`:authority`). */
  readonly host: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string | null;
}

/** The headers that authenticate one attempt: its final path and body signed at `nowMs`. */
export type Signer = (path: string, body: Buffer, nowMs: number) => readonly HeaderPair[];

/** Where and how a deployment is called, as router.yaml gives it with the provider's defaults filled in. */
export interface EndpointSettings {
  /** Prefix of every path, without a trailing slash (`/v1`, `/openai/deployments/gpt-4o`). */
  readonly basePath: string;
  /** Query parameters on every call (Azure's `api-version`). */
  readonly query: Readonly<Record<string, string>>;
  readonly auth: AuthStyle;
  /** Fixed headers on every call (`anthropic-version`, a gateway's own header). */
  readonly headers: Readonly<Record<string, string>>;
}

/** What a deployment's own settings start from: the provider's public API. */
export interface EndpointDefaults {
  /** `providerModel` is the deployment's model id (Azure names its deployment in the path). */
  basePath(providerModel: string): string;
  readonly query: Readonly<Record<string, string>>;
  readonly auth: AuthStyle;
  readonly headers: Readonly<Record<string, string>>;
}

/** The parts of the client's request a rewrite reads. */
export interface RequestToRewrite {
  /** `raw` parsed. */
  readonly body: Record<string, unknown>;
  /** The body's bytes, which a rewrite edits in place (json/splice.ts). */
  readonly raw: Buffer;
  readonly stream: boolean;
  readonly clientWantsUsage: boolean;
  /** The body holds fields for the router alone (router-fields.ts). */
  readonly routerFields: boolean;
}

export interface BodyRewrite {
  /** The body the provider gets, or null when the client's bytes go unchanged. */
  readonly body: Buffer | null;
  /** The router asked for a usage report the client did not: the response observer drops it. */
  readonly hideUsageEvent: boolean;
}

export interface ProviderAdapter {
  readonly defaults: EndpointDefaults;
  /** The client API whose requests and answers it takes as they are (client-apis.ts); null: none. */
  readonly native: ClientApi | null;
  /** Client headers its API reads that a client may send (providers/forwarded-headers.ts). */
  readonly forwardedHeaders: readonly string[];
  /** The path under the base path (a query may follow) for each call; null for one it does not serve. */
  readonly paths: Readonly<Record<Call, string | null>>;
  /**
   * The request body in OpenAI's format for a deployment whose model id is `providerModel`: what
   * Envoy buffers and replays on every attempt.
   */
  rewriteBody(req: RequestToRewrite, providerModel: string): BodyRewrite;
  /**
   * For an API that does not take OpenAI's format: its body, written from the OpenAI one in each
   * attempt's own filter (pipeline/attempt.ts), so a fallback hop to another format starts from
   * the client's request. Throws a RouterError for what it cannot express. Null: OpenAI's format.
   */
  readonly translate: ((openAiBody: Record<string, unknown>, providerModel: string) => Buffer) | null;
  /** The status an OpenAI client gets for the provider's (Anthropic's 529 is a 503). */
  clientStatus(status: number): number;
  /**
   * Reads a response for usage and the model that answered; may change what the client gets (a
   * translating adapter's answer in OpenAI's format). `nowMs`: when the response started.
   */
  observeResponse(contentType: string, hideUsageEvent: boolean, nowMs: number, providerModel: string): ResponseObserver | null;
  /** For `aws-sigv4`: the signer of a deployment's attempts. */
  readonly signerFor?: (aws: AwsSettings) => Signer;
  /** For `aws-sigv4`: the host a region's API is served at. */
  readonly awsHostOf?: (region: string) => string;
  /** A refusal that another deployment may serve (a content filter, a context window). */
  fallbackReasonOf(errorBody: Buffer): FallbackReason | null;
  /** Its remaining requests and tokens, from response headers. */
  rateLimitsOf(headers: Readonly<Record<string, string>>, nowMs: number): ProviderLimits | null;
  /** The headers `rateLimitsOf` reads, which Envoy must forward to the router (check-envoy). */
  readonly rateLimitHeaders: readonly string[];
}

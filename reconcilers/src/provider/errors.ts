/**
 * Typed errors of the DigitalOcean provider, and the pure functions that turn what came back
 * (an HTTP answer, or a network failure) into one.
 *
 * WARNING: an axios error carries the request config, Authorization header included. It is
 * never kept as a `cause`: only the facts below are, so logging a ProviderError (or its
 * cause chain) can never print the token.
 */
import { ToolbeltError } from '@toolbelt/schema';

/**
 * What went wrong, as the caller must react to it:
 * - `auth`: the token is missing, wrong, expired or lacks a scope (401/403) — fix config.
 * - `not_found`: the resource does not exist (404).
 * - `rate_limited`: DigitalOcean said 429 more often than the provider would wait for.
 * - `validation`: DigitalOcean (or the provider, before sending) refused the request's
 *   content (400, 422) — retrying the same request cannot help.
 * - `quota`: an account limit (the droplet limit) refused a create (422/403 naming a limit).
 * - `conflict`: the resource is busy (409, or 422 "pending event" on a locked droplet) —
 *   try again on a later reconcile.
 * - `transient`: 5xx, timeouts, resets, refused connections — retried for idempotent calls;
 *   when it reaches the caller, `outcomeUnknown` says whether the request may have acted.
 * - `unexpected`: anything else (an answer the provider cannot read).
 */
export type ProviderErrorKind =
  | 'auth'
  | 'not_found'
  | 'rate_limited'
  | 'validation'
  | 'quota'
  | 'conflict'
  | 'transient'
  | 'unexpected';

/** What the provider saw of one failed request, with no secret in it. */
export interface FailureFacts {
  /** HTTP status, when an answer came back. */
  status?: number;
  /** DigitalOcean's error id (`not_found`, `too_many_requests`, `unprocessable_entity`…). */
  id?: string;
  /** DigitalOcean's message, or the network error's message. */
  message: string;
  /** DigitalOcean's `request_id` (body) or `x-request-id` (header), for support tickets. */
  requestId?: string;
  /** The network error code (ECONNRESET, ECONNREFUSED, ECONNABORTED…) when no answer came. */
  networkCode?: string;
  /** The request ran out of time on our side. */
  timedOut?: boolean;
  /** `retry-after` in seconds, when DigitalOcean sent it. */
  retryAfterS?: number;
  /** `ratelimit-reset` (epoch seconds), when DigitalOcean sent it. */
  resetAtS?: number;
}

/** Network failures where the request provably never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

const QUOTA_PATTERN = /droplet limit|exceed(s|ed)? (your|the) .*limit|quota|limit (reached|exceeded)/i;
const CONFLICT_PATTERN = /pending event|locked|already in progress/i;

const BY_STATUS: Record<number, ProviderErrorKind> = { 401: 'auth', 404: 'not_found', 409: 'conflict', 429: 'rate_limited' };

/** 400/403/422 say more in their message: a limit, a busy droplet, or a bad request. */
function refusalKind(facts: FailureFacts): ProviderErrorKind {
  if (QUOTA_PATTERN.test(facts.message)) return 'quota';
  if (facts.status === 403) return 'auth';
  if (CONFLICT_PATTERN.test(facts.message)) return 'conflict';
  return 'validation';
}

/** Classifies one failure. Pure. */
export function classifyFailure(facts: FailureFacts): ProviderErrorKind {
  const { status } = facts;
  if (status === undefined) return facts.networkCode || facts.timedOut ? 'transient' : 'unexpected';
  const direct = BY_STATUS[status];
  if (direct) return direct;
  if (status === 400 || status === 403 || status === 422) return refusalKind(facts);
  if (status === 408 || status >= 500) return 'transient';
  return 'unexpected';
}

/**
 * Whether the request may have been carried out although no success came back: an answer
 * of 5xx, a timeout, or a connection that broke after the request was written. A refused
 * connection or any 4xx (429 included) means DigitalOcean did not act.
 */
export function mayHaveActed(facts: FailureFacts): boolean {
  if (facts.status !== undefined) return facts.status >= 500 || facts.status === 408;
  if (facts.networkCode && NOT_SENT_CODES.has(facts.networkCode)) return false;
  return true;
}

const HINTS: Record<ProviderErrorKind, string> = {
  auth: 'check DIGITALOCEAN_TOKEN: it must be a valid personal access token with read and write scopes',
  not_found: 'the resource is gone; observe the fleet again before acting on it',
  rate_limited: 'DigitalOcean kept refusing with 429; lower the call rate or wait for the limit to reset',
  validation: 'fix the request (region, size, image, name, tags, user_data) — retrying it unchanged cannot succeed',
  quota: 'raise the droplet limit of the DigitalOcean account, or delete unused droplets',
  conflict: 'the resource is busy (an action is pending); try again on a later reconcile',
  transient: 'DigitalOcean or the network failed; it is retried with backoff',
  unexpected: 'DigitalOcean answered in a way the provider does not understand; see the message',
};

/** Error codes, stable for metrics and events: `DO_ERR_<KIND>`. */
export const providerErrorCode = (kind: ProviderErrorKind): string => `DO_ERR_${kind.toUpperCase()}`;

/** A failed DigitalOcean call, with what DigitalOcean said and what to do about it. */
export class ProviderError extends ToolbeltError {
  readonly kind: ProviderErrorKind;
  /** The operation, e.g. `POST /v2/droplets`. */
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  /** DigitalOcean's own error id and message, verbatim. */
  readonly doId: string | undefined;
  readonly doMessage: string;
  /** True when the request may have acted (see mayHaveActed); for a create: adopt first. */
  readonly outcomeUnknown: boolean;
  /** How many times the request was sent (0 when refused before sending). */
  readonly attempts: number;

  constructor(init: { kind: ProviderErrorKind; endpoint: string; facts: FailureFacts; attempts: number; outcomeUnknown?: boolean; hint?: string }) {
    const { kind, endpoint, facts } = init;
    const status = facts.status === undefined ? (facts.networkCode ?? 'no answer') : String(facts.status);
    const request = facts.requestId ? ` [request_id ${facts.requestId}]` : '';
    super(providerErrorCode(kind), `DigitalOcean ${endpoint} failed (${status}): ${facts.message}${request}`, {
      hint: init.hint ?? HINTS[kind],
      cause: { ...facts },
    });
    this.name = 'ProviderError';
    this.kind = kind;
    this.endpoint = endpoint;
    this.status = facts.status;
    this.requestId = facts.requestId;
    this.doId = facts.id;
    this.doMessage = facts.message;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
    this.attempts = init.attempts;
  }
}

/** Whether `error` is a ProviderError (of one of `kinds`, if given). */
export function isProviderError(error: unknown, ...kinds: ProviderErrorKind[]): error is ProviderError {
  return error instanceof ProviderError && (kinds.length === 0 || kinds.includes(error.kind));
}

/** A request refused by the provider itself before anything was sent. */
export function invalidRequest(endpoint: string, message: string, hint?: string): ProviderError {
  return new ProviderError({ kind: 'validation', endpoint, facts: { message }, attempts: 0, hint });
}

/** The hint of an error after which the request may have acted. */
export const OUTCOME_UNKNOWN_HINT =
  'the request may have acted although no answer said so: observe (for a create, sweep the fleet and adopt by identity) before sending it again';

/**
 * A 2xx answer without what DigitalOcean documents (e.g. a proxy's page). Never read as an
 * empty list: an empty fleet would look like droplets to recreate.
 */
export function unreadableAnswer(endpoint: string, status: number, what: string, acted: boolean): ProviderError {
  return new ProviderError({
    kind: 'unexpected',
    endpoint,
    facts: { status, message: `the answer has no ${what}` },
    attempts: 1,
    outcomeUnknown: acted,
    hint: acted ? OUTCOME_UNKNOWN_HINT : 'check DIGITALOCEAN_API_URL: it must point at the DigitalOcean API (or the simulator)',
  });
}

/** `data[field]` when it is an array, else an unreadableAnswer error. */
export function listIn<T>(answer: { data: unknown; status: number }, field: string, endpoint: string, acted = false): T[] {
  const value = (answer.data as Record<string, unknown> | null | undefined)?.[field];
  if (!Array.isArray(value)) throw unreadableAnswer(endpoint, answer.status, `"${field}" list`, acted);
  return value as T[];
}

/** `data[field]` when it is an object with an id, else an unreadableAnswer error. */
export function itemIn<T>(answer: { data: unknown; status: number }, field: string, endpoint: string, acted = false): T {
  const value = (answer.data as Record<string, unknown> | null | undefined)?.[field];
  if (!value || typeof value !== 'object' || (value as { id?: unknown }).id === undefined) {
    throw unreadableAnswer(endpoint, answer.status, `"${field}"`, acted);
  }
  return value as T;
}

/**
 * Reading DigitalOcean's answers as dots-wrapper (axios) hands them over: rate-limit headers
 * of every answer, and the facts of a failure. Pure functions over plain shapes, so they are
 * tested without HTTP; nothing here keeps a reference to the axios objects.
 */
import type { FailureFacts } from './errors.ts';

/** What `ratelimit-*` headers said. Absent fields were not sent. */
export interface RateLimitHeaders {
  /** `ratelimit-limit`: requests allowed per hour. */
  limit?: number;
  /** `ratelimit-remaining`: requests left in the hourly window. */
  remaining?: number;
  /** `ratelimit-reset`: epoch seconds at which the oldest counted request expires. */
  resetAtS?: number;
  /** `retry-after`: seconds to wait (sent with a 429 of the per-minute limit). */
  retryAfterS?: number;
}

type HeaderBag = { get?: (name: string) => unknown } & Record<string, unknown>;

/** One header's value from axios' `AxiosHeaders` or a plain object, case-insensitively. */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const bag = headers as HeaderBag;
  const lower = name.toLowerCase();
  let value: unknown = typeof bag.get === 'function' ? bag.get(lower) : undefined;
  if (value === undefined || value === null) {
    const key = Object.keys(bag).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : bag[key];
  }
  if (Array.isArray(value)) value = value[0];
  return value === undefined || value === null ? undefined : String(value);
}

function numberHeader(headers: unknown, name: string): number | undefined {
  const raw = headerValue(headers, name);
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * `retry-after` is seconds, or (RFC 9110) an HTTP date; `nowMs` turns a date into seconds.
 */
function retryAfterSeconds(headers: unknown, nowMs: number): number | undefined {
  const seconds = numberHeader(headers, 'retry-after');
  if (seconds !== undefined) return seconds;
  const raw = headerValue(headers, 'retry-after');
  const date = raw === undefined ? NaN : Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowMs) / 1000);
}

/** Reads the rate-limit headers of one answer (success or failure). */
export function readRateLimitHeaders(headers: unknown, nowMs: number): RateLimitHeaders {
  const result: RateLimitHeaders = {};
  const limit = numberHeader(headers, 'ratelimit-limit');
  const remaining = numberHeader(headers, 'ratelimit-remaining');
  const resetAtS = numberHeader(headers, 'ratelimit-reset');
  const retryAfterS = retryAfterSeconds(headers, nowMs);
  if (limit !== undefined && limit > 0) result.limit = limit;
  if (remaining !== undefined) result.remaining = remaining;
  if (resetAtS !== undefined) result.resetAtS = resetAtS;
  if (retryAfterS !== undefined) result.retryAfterS = retryAfterS;
  return result;
}

/** The shape of an axios error, as far as the provider reads it. */
interface AxiosLikeError {
  isAxiosError?: boolean;
  code?: string;
  message?: string;
  response?: { status?: number; data?: unknown; headers?: unknown };
}

/** Whether a thrown value came from the HTTP layer (and not from a bug of ours). */
export function isHttpFailure(thrown: unknown): boolean {
  return typeof thrown === 'object' && thrown !== null && (thrown as AxiosLikeError).isAxiosError === true;
}

const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT']);

function bodyFacts(data: unknown): { id?: string; message?: string; requestId?: string } {
  if (!data || typeof data !== 'object') {
    return typeof data === 'string' && data.trim() ? { message: data.trim().slice(0, 300) } : {};
  }
  const body = data as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return { id: text(body.id), message: text(body.message), requestId: text(body.request_id) };
}

/**
 * The secret-free facts of an HTTP-layer failure: status, DigitalOcean's `{id, message,
 * request_id}`, the network code, whether it timed out, and the rate-limit headers.
 */
export function failureFacts(thrown: unknown, nowMs: number): FailureFacts {
  const error = thrown as AxiosLikeError;
  const response = error.response;
  if (response && typeof response.status === 'number') return answerFacts(response.status, response, nowMs);
  const code = typeof error.code === 'string' ? error.code : undefined;
  const facts: FailureFacts = { message: error.message || 'no answer from DigitalOcean' };
  if (code) facts.networkCode = code;
  if (code && TIMEOUT_CODES.has(code)) facts.timedOut = true;
  return facts;
}

function answerFacts(status: number, response: { data?: unknown; headers?: unknown }, nowMs: number): FailureFacts {
  const body = bodyFacts(response.data);
  const limits = readRateLimitHeaders(response.headers, nowMs);
  const requestId = body.requestId ?? headerValue(response.headers, 'x-request-id');
  return {
    status,
    message: body.message ?? `HTTP ${status}`,
    ...(body.id ? { id: body.id } : {}),
    ...(requestId ? { requestId } : {}),
    ...(limits.retryAfterS !== undefined ? { retryAfterS: limits.retryAfterS } : {}),
    ...(limits.resetAtS !== undefined ? { resetAtS: limits.resetAtS } : {}),
  };
}

/**
 * Talking to the /v1 API with the session cookie (same origin; the browser sends it, no
 * script can read it). Writes carry the session's CSRF token. A 401 anywhere means the
 * session ended: the app goes back to sign-in.
 */
import type { Session } from './types.ts';

export interface FieldProblem {
  path: string;
  message: string;
}

/** An API error answer: status, code, message, hint and per-field details. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: FieldProblem[];

  constructor(status: number, body: { code?: string | undefined; message?: string | undefined; hint?: string | undefined; details?: FieldProblem[] | undefined }) {
    super(body.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body.code ?? `HTTP_${status}`;
    this.hint = body.hint;
    this.details = body.details ?? [];
  }
}

let csrfToken: string | null = null;
let onUnauthenticated: () => void = () => {};

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not treat a 401 as the session ending (the sign-in form itself). */
  quiet401?: boolean;
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string; hint?: string; details?: FieldProblem[] } } | undefined;
  return new ApiError(res.status, body?.error ?? { message: res.statusText });
}

function requestOf(options: RequestOptions): RequestInit {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  if (options.signal) init.signal = options.signal;
  return init;
}

/** Calls the API; resolves to the JSON answer (undefined for 204), rejects with ApiError. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const res = await fetch(path, requestOf(options));
  if (!res.ok) {
    const error = await errorOf(res);
    if (res.status === 401 && !options.quiet401) onUnauthenticated();
    throw error;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** The signed-in session, or undefined when there is none. */
export async function currentSession(): Promise<Session | undefined> {
  const answer = await api<Session & { signed_in: boolean }>('/v1/session', { quiet401: true });
  return answer.signed_in ? answer : undefined;
}

/** Sends the token once, as a bearer credential; the answer sets the session cookie. */
export async function signIn(token: string): Promise<Session> {
  const res = await fetch('/v1/session', { method: 'POST', headers: { authorization: `Bearer ${token.trim()}`, accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as Session;
}
export const signOut = () => api<void>('/v1/session', { method: 'DELETE', quiet401: true });

/** `encodeURIComponent` for a path segment. */
export const seg = encodeURIComponent;

/** The CSRF header a write made with the session cookie carries (none when signed out). */
export function csrfHeader(): Record<string, string> {
  return csrfToken ? { 'x-csrf-token': csrfToken } : {};
}

/** Tells the app the session ended (a 401 from a call made outside `api`). */
export function sessionEnded(): void {
  onUnauthenticated();
}

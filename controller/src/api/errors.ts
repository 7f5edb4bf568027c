/**
 * The API's one error shape, `{ error: { code, message, hint?, details?: [{ path, message }] } }`,
 * and the exception that carries it from anywhere in a handler (rolling back its
 * transaction) to the response.
 */
import { sqlState } from '@toolbelt/schema';
import type { z } from 'zod';

/** One bad field: where (a dotted path such as `spec.tools[0].version`) and why. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** An error answered with `status` and the project's error body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: FieldProblem[] | undefined;
  /** Response headers the answer carries (e.g. Retry-After on a 429). */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: { hint?: string; details?: FieldProblem[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.hint = extra.hint;
    this.details = extra.details;
    this.headers = extra.headers ?? {};
  }

  /** The JSON body's `error` member. */
  toBody(): { code: string; message: string; hint?: string; details?: FieldProblem[] } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/** A path as the API prints it: `spec.tools[0].version` (a root problem is `(root)`). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

/** Turns zod issues into field problems, each under `prefix`. */
export function zodProblems(error: z.ZodError, prefix: readonly PropertyKey[] = []): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    // An unknown key names the key itself, so the operator sees the typo where it is.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath([...prefix, ...issue.path, key]),
        message: 'unknown field (check the spelling; see GET /v1/openapi.json)',
      }));
    }
    return [{ path: formatPath([...prefix, ...issue.path]), message: issue.message }];
  });
}

/** 400 with one entry per bad field. */
export function invalid(details: FieldProblem[], message?: string): ApiError {
  const summary = message ?? `invalid request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`;
  return new ApiError(400, 'INVALID', summary, { details });
}

/** 400 naming one bad field. */
export function invalidField(path: readonly PropertyKey[], message: string): ApiError {
  return invalid([{ path: formatPath(path), message }]);
}

export function notFoundError(what: string, hint?: string): ApiError {
  return new ApiError(404, 'NOT_FOUND', `${what} not found`, hint === undefined ? {} : { hint });
}

/** 409: a conflicting name, a stale generation, or a row still in use. */
export function conflictError(message: string, hint?: string): ApiError {
  return new ApiError(409, 'CONFLICT', message, hint === undefined ? {} : { hint });
}

/** 412-style stale write, answered as 409 so clients handle one status for "someone else wrote first". */
export function staleError(what: string, expected: string, actual: string): ApiError {
  return new ApiError(409, 'STALE', `${what} changed since you read it (you sent If-Match ${expected}; it is now ${actual})`, {
    hint: 'GET it again, reapply your change to what you get, and send the new ETag in If-Match',
  });
}

/**
 * The answer an error thrown by a handler deserves, when it is the caller's fault: an
 * ApiError as it is; a Postgres "data exception" (SQLSTATE class 22: a NUL byte in a text,
 * a number out of range, a malformed literal) is a value of the request that the database
 * cannot store, so a 400 — with the database's reason, never the query's parameters.
 * Anything else is undefined: a fault of ours, answered 500.
 */
export function callerFault(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  const state = sqlState(error);
  if (state === undefined || !state.startsWith('22')) return undefined;
  return invalid([{ path: '(request)', message: `the database cannot store a value of this request: ${databaseReason(error)}` }]);
}

/** The message of the innermost error that carries a SQLSTATE (the driver's, not drizzle's). */
function databaseReason(error: unknown): string {
  let reason = 'invalid value';
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') reason = message.split('\n')[0]!;
  }
  return reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
}

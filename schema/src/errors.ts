/**
 * Errors that carry a stable code and advice for the operator (STYLE.md lesson 8).
 */

/** An error whose message says what went wrong and `hint` says what to do about it. */
export class ToolbeltError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ToolbeltError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The message and the hint, as one line an operator can act on. */
  describe(): string {
    return this.hint ? `${this.message} — ${this.hint}` : this.message;
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown), { cause: thrown });
}

/** Postgres SQLSTATE codes toolbelt reacts to. */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  /** ON DELETE RESTRICT: a row other rows still point at. */
  restrictViolation: '23001',
  checkViolation: '23514',
  notNullViolation: '23502',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  invalidCatalogName: '3D000',
  invalidPassword: '28P01',
  cannotConnectNow: '57P03',
  adminShutdown: '57P01',
} as const;

const RETRYABLE_SQLSTATES = new Set<string>([
  SQLSTATE.serializationFailure,
  SQLSTATE.deadlockDetected,
  SQLSTATE.cannotConnectNow,
  SQLSTATE.adminShutdown,
]);

/** The SQLSTATE of a Postgres error from either driver (also when wrapped as a cause). */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * Whether a write was refused because other rows still reference the row. Postgres 15
 * reports an ON DELETE RESTRICT refusal as 23503, Postgres 17 (PGlite) as 23001.
 */
export function isStillReferenced(error: unknown): boolean {
  const state = sqlState(error);
  return state === SQLSTATE.restrictViolation || state === SQLSTATE.foreignKeyViolation;
}

/** Whether a database error is worth retrying (with jitter) rather than reporting. */
export function isRetryableDbError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && RETRYABLE_SQLSTATES.has(state);
}

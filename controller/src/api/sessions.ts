/**
 * Console sessions: the sign-in page trades an API token for a session kept server-side
 * (`console_sessions`) and named by an opaque cookie — `HttpOnly` (no script reads it),
 * `SameSite=Strict` (no other site sends it), `Secure` under TLS, expiring. The token itself
 * is never stored by the browser. Writes made with the cookie must also carry the session's
 * CSRF token in `X-CSRF-Token` (a header another origin cannot set), so a forged form post is
 * refused even by a browser that ignores SameSite. The session has its token's role; revoking
 * the token or signing out ends it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Db, findConsoleSession } from '@toolbelt/schema';
import { ApiError } from './errors.ts';
import type { Caller } from './route.ts';

export const SESSION_COOKIE = 'toolbelt_session';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The value of cookie `name` in `req`, if sent. */
export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request reached us over TLS (directly, or through a proxy that says so). */
function overTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

/** Sets the session cookie; `maxAgeMs` 0 clears it. */
export function setSessionCookie(req: IncomingMessage, res: ServerResponse, value: string, maxAgeMs: number): void {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (overTls(req)) parts.push('Secure');
  res.setHeader('set-cookie', parts.join('; '));
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sessionEnded(): ApiError {
  return new ApiError(401, 'UNAUTHENTICATED', 'the console session has ended (signed out, expired, or its token was revoked)', {
    hint: 'sign in again with an API token',
  });
}

/** The caller of a request that came with a session cookie; writes must carry the CSRF token. */
export async function sessionCaller(db: Db, req: IncomingMessage, secret: string, now: Date): Promise<Caller> {
  const session = await findConsoleSession(db, secret, now);
  if (!session) throw sessionEnded();
  if (!SAFE_METHODS.has((req.method ?? 'GET').toUpperCase())) {
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent !== 'string' || !sameSecret(sent, session.csrfToken)) {
      throw new ApiError(403, 'FORBIDDEN', `a write with a session cookie needs the session's CSRF token in ${CSRF_HEADER}`, {
        hint: 'the console sends it; other clients should use Authorization: Bearer',
      });
    }
  }
  return { tokenId: session.tokenId, name: session.name, role: session.role, sessionId: session.id };
}

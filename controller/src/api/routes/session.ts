/**
 * The console's sign-in: `POST /v1/session` trades an API token for a session cookie,
 * `GET /v1/session` says whether and as whom this browser is signed in (and the CSRF token
 * writes must carry),
 * `DELETE /v1/session` signs out (the session ends on the server, the cookie is cleared).
 */
import {
  API_ROLES,
  createConsoleSession,
  findConsoleSession,
  pruneConsoleSessions,
  revokeConsoleSession,
} from '@toolbelt/schema';
import { z } from 'zod';
import type { ApiDeps } from '../deps.ts';
import { invalid } from '../errors.ts';
import { type AnyRoute, defineRoute } from '../route.ts';
import { readCookie, SESSION_COOKIE, setSessionCookie } from '../sessions.ts';
import { errors } from './common.ts';

const sessionView = z.object({
  name: z.string(),
  role: z.enum(API_ROLES),
  csrf_token: z.string().describe('send it back in X-CSRF-Token on writes made with the cookie'),
  expires_at: z.string(),
});

const signInRoute = (deps: ApiDeps, ttlMs: number): AnyRoute =>
  defineRoute({
    method: 'POST',
    path: '/v1/session',
    summary: 'Sign in to the console: trade the API token of `Authorization: Bearer` for a session cookie (HttpOnly, SameSite=Strict)',
    tag: 'session',
    // The token comes as it always does, in the Authorization header, checked by the registry.
    access: 'viewer',
    writes: [],
    responses: { 201: { description: 'signed in; the cookie is set', schema: sessionView.extend({ signed_in: z.literal(true) }) }, ...errors(400, 401) },
    async handle({ caller, req, res }) {
      if (caller!.sessionId) throw invalid([{ path: 'headers.authorization', message: 'sign in with an API token (Authorization: Bearer), not with a session' }]);
      const token = caller!;
      // Ended sessions are kept a day (for the record), then removed as new ones come in.
      await pruneConsoleSessions(deps.db, new Date(deps.clock.now() - 86_400_000));
      const expiresAt = new Date(deps.clock.now() + ttlMs);
      const session = await createConsoleSession(deps.db, { tokenId: token.tokenId, expiresAt });
      setSessionCookie(req, res, session.secret, ttlMs);
      res.setHeader('cache-control', 'no-store');
      return {
        status: 201,
        body: { signed_in: true, name: token.name, role: token.role, csrf_token: session.csrfToken, expires_at: expiresAt.toISOString() },
      };
    },
  });

const whoRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'GET',
    path: '/v1/session',
    summary: 'Whether this browser is signed in: the console session of the cookie, with its CSRF token',
    tag: 'session',
    // Public so that the console can ask without a failed request: no cookie (or an ended
    // session) answers `signed_in: false`, never anything else.
    access: 'public',
    responses: { 200: { description: 'the session, if any', schema: sessionView.partial().extend({ signed_in: z.boolean() }) } },
    async handle({ req, res }) {
      res.setHeader('cache-control', 'no-store');
      const secret = readCookie(req, SESSION_COOKIE);
      const session = secret ? await findConsoleSession(deps.db, secret, new Date(deps.clock.now())) : undefined;
      if (!session) return { status: 200, body: { signed_in: false } };
      return {
        status: 200,
        body: { signed_in: true, name: session.name, role: session.role, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString() },
      };
    },
  });

const signOutRoute = (deps: ApiDeps): AnyRoute =>
  defineRoute({
    method: 'DELETE',
    path: '/v1/session',
    summary: 'Sign out: end the console session on the server and clear its cookie',
    tag: 'session',
    access: 'viewer',
    writes: [],
    responses: { 204: { description: 'signed out' }, ...errors(401, 403) },
    async handle({ caller, req, res }) {
      if (caller!.sessionId) await revokeConsoleSession(deps.db, caller!.sessionId, new Date(deps.clock.now()));
      setSessionCookie(req, res, '', 0);
      return { status: 204 };
    },
  });

/** The session routes; `ttlMs` is how long a session lasts. */
export const sessionRoutes = (deps: ApiDeps, ttlMs: number): AnyRoute[] => [signInRoute(deps, ttlMs), whoRoute(deps), signOutRoute(deps)];

/**
 * Console sessions: an API token traded for an opaque session id kept in an HttpOnly cookie.
 * Only the id's SHA-256 is stored. A session is live while it is not expired, not revoked,
 * and its token is not revoked either (the lookup joins the token).
 */
import { randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lt, or, isNotNull } from 'drizzle-orm';
import { hashApiToken } from './api-tokens.ts';
import type { DbOrTx } from './db.ts';
import { type ApiRole, apiTokens, consoleSessions } from './tables.ts';

/** A live session with its token's identity. */
export interface ConsoleSession {
  id: string;
  tokenId: string;
  name: string;
  role: ApiRole;
  csrfToken: string;
  expiresAt: Date;
}

/** Opens a session for a token; returns the session secret (shown once, as the cookie) and the row. */
export async function createConsoleSession(
  db: DbOrTx,
  input: { tokenId: string; expiresAt: Date },
): Promise<{ secret: string; id: string; csrfToken: string }> {
  const secret = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(24).toString('base64url');
  const [row] = await db
    .insert(consoleSessions)
    .values({ session_hash: hashApiToken(secret), token_id: input.tokenId, csrf_token: csrfToken, expires_at: input.expiresAt })
    .returning({ id: consoleSessions.id });
  return { secret, id: row!.id, csrfToken };
}

/** The live session whose secret is `secret` at `now`, if any. */
export async function findConsoleSession(db: DbOrTx, secret: string, now: Date): Promise<ConsoleSession | undefined> {
  const [row] = await db
    .select({
      id: consoleSessions.id,
      tokenId: apiTokens.id,
      name: apiTokens.name,
      role: apiTokens.role,
      csrfToken: consoleSessions.csrf_token,
      expiresAt: consoleSessions.expires_at,
    })
    .from(consoleSessions)
    .innerJoin(apiTokens, eq(apiTokens.id, consoleSessions.token_id))
    .where(
      and(
        eq(consoleSessions.session_hash, hashApiToken(secret)),
        isNull(consoleSessions.revoked_at),
        gt(consoleSessions.expires_at, now),
        isNull(apiTokens.revoked_at),
      ),
    );
  return row;
}

/** Ends a session (sign-out). Returns whether a live one was ended. */
export async function revokeConsoleSession(db: DbOrTx, id: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(consoleSessions)
    .set({ revoked_at: now })
    .where(and(eq(consoleSessions.id, id), isNull(consoleSessions.revoked_at)))
    .returning({ id: consoleSessions.id });
  return rows.length > 0;
}

/** Deletes sessions that ended before `before` (expired or revoked); returns how many. */
export async function pruneConsoleSessions(db: DbOrTx, before: Date): Promise<number> {
  const rows = await db
    .delete(consoleSessions)
    .where(or(lt(consoleSessions.expires_at, before), and(isNotNull(consoleSessions.revoked_at), lt(consoleSessions.revoked_at, before))))
    .returning({ id: consoleSessions.id });
  return rows.length;
}

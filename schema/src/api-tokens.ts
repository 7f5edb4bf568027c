/**
 * Queries on API tokens. Only hashes are stored; callers hash the token they were shown
 * (see `hashApiToken`) and never pass the token itself here.
 */
import { createHash } from 'node:crypto';
import { and, asc, eq, isNull, ne } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { type Found, type NotFound, notFound, ok } from './outcomes.ts';
import { type ApiRole, apiTokens } from './tables.ts';

export type ApiToken = typeof apiTokens.$inferSelect;
/** A token row as it may be shown: everything but the hash. */
export type ApiTokenInfo = Omit<ApiToken, 'token_hash'>;

/** The SHA-256 (hex) of a token: what the store keeps and looks tokens up by. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const info = ({ token_hash: _hash, ...rest }: ApiToken): ApiTokenInfo => rest;

/** Stores a token by its hash. A hash already stored is kept (idempotent for a bootstrap token). */
export async function createApiToken(
  db: DbOrTx,
  input: { name: string; role: ApiRole; tokenHash: string; agentId?: string | undefined },
): Promise<ApiTokenInfo> {
  const [row] = await db
    .insert(apiTokens)
    .values({ name: input.name, role: input.role, token_hash: input.tokenHash, agent_id: input.agentId ?? null })
    .onConflictDoNothing({ target: apiTokens.token_hash })
    .returning();
  if (row) return info(row);
  const [existing] = await db.select().from(apiTokens).where(eq(apiTokens.token_hash, input.tokenHash));
  return info(existing!);
}

/** The live (not revoked) token with this hash, if any. */
export async function findApiTokenByHash(db: DbOrTx, tokenHash: string): Promise<ApiTokenInfo | undefined> {
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.token_hash, tokenHash), isNull(apiTokens.revoked_at)));
  return row ? info(row) : undefined;
}

/** Whether any live admin token exists (the first start creates one when none does). */
export async function hasLiveAdminToken(db: DbOrTx): Promise<boolean> {
  const rows = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.role, 'admin'), isNull(apiTokens.revoked_at)))
    .limit(1);
  return rows.length > 0;
}

/** Every token, live and revoked, oldest first. */
export async function listApiTokens(db: DbOrTx): Promise<ApiTokenInfo[]> {
  const rows = await db.select().from(apiTokens).orderBy(asc(apiTokens.created_at), asc(apiTokens.id));
  return rows.map(info);
}

/** Revokes a token; revoking a revoked one is a no-op that returns it. */
export async function revokeApiToken(db: DbOrTx, id: string, at: Date): Promise<Found<ApiTokenInfo> | NotFound> {
  const [row] = await db
    .update(apiTokens)
    .set({ revoked_at: at })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revoked_at)))
    .returning();
  if (row) return ok(info(row));
  const [current] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  return current ? ok(info(current)) : notFound;
}

/**
 * Revokes every live token named `name` whose hash is not `keepHash`; returns how many. The
 * token configured by TOOLBELT_ADMIN_TOKEN is registered under one name, so changing the
 * setting revokes the value it replaced.
 */
export async function revokeOtherTokensNamed(db: DbOrTx, input: { name: string; keepHash: string; at: Date }): Promise<number> {
  const rows = await db
    .update(apiTokens)
    .set({ revoked_at: input.at })
    .where(and(eq(apiTokens.name, input.name), ne(apiTokens.token_hash, input.keepHash), isNull(apiTokens.revoked_at)))
    .returning({ id: apiTokens.id });
  return rows.length;
}

/** Records that a token was used (best effort; callers may skip it for speed). */
export async function touchApiToken(db: DbOrTx, id: string, at: Date): Promise<void> {
  await db.update(apiTokens).set({ last_used_at: at }).where(eq(apiTokens.id, id));
}

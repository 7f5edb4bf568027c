/**
 * Per-droplet credentials (`droplet_credentials`): single-use enrollment tokens carried in
 * user_data, and the agent credentials they are traded for on the agent's first connect.
 *
 * Only the SHA-256 of a token is stored. A token is 32 random bytes (256 bits), so a slow
 * password KDF (bcrypt, scrypt) would add nothing: nobody can guess a preimage of a 256-bit
 * random value, and a plain hash keeps the lookup a unique-index probe on every connect
 * (15,000 agents reconnecting after a restart must not cost 15,000 × 100 ms of CPU).
 *
 * For agent credentials, `used_at` means "the agent confirmed it holds this credential"
 * (by `credential_ack` or by authenticating with it); confirming one revokes the droplet's
 * other agent credentials, which is how rotation finishes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, inArray, isNull, ne, or, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { type Found, type NotFound, notFound, ok } from './outcomes.ts';
import { UUID } from './ids.ts';
import { rowsOf } from './raw.ts';
import { agentDroplets, dropletCredentials } from './tables.ts';

/** NOTIFY channel carrying the environment id whose credentials were revoked. */
export const CREDENTIALS_REVOKED_CHANNEL = 'toolbelt_credentials_revoked';

/**
 * Token prefixes: they make leaked tokens recognisable to secret scanners and to humans,
 * and let the hub refuse garbage without a database lookup. The rest is 32 random bytes,
 * base64url.
 */
export const TOKEN_PREFIXES = { enrollment: 'tbe1_', agent: 'tba1_' } as const;
const ENROLLMENT_PREFIX = TOKEN_PREFIXES.enrollment;
const AGENT_PREFIX = TOKEN_PREFIXES.agent;

/** How long an enrollment token stays valid unless told otherwise: a slow boot plus margin. */
export const DEFAULT_ENROLLMENT_TTL_MS = 2 * 60 * 60 * 1000;

/**
 * A spent enrollment token may be redeemed again this long after its last redemption, while
 * the agent credential that redemption issued was never confirmed (no `credential_ack`, no
 * connect with it): the answer carrying the credential was lost (the controller died, the
 * socket dropped, the agent died before storing it). Long enough that two racing
 * redemptions cannot both win; short enough that such an agent is back within a minute
 * instead of waiting for its droplet to be replaced.
 */
export const ENROLLMENT_RETRY_AFTER_MS = 30_000;

/** The stored form of a token: hex SHA-256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function newToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** A credential handed out once, in plaintext; only its hash is kept. */
export interface IssuedCredential {
  credentialId: string;
  environmentId: string;
  /** WARNING: the only copy of the secret. Never log it. */
  token: string;
  expiresAt: Date | null;
}

/** Why a token was refused; the hub maps these to 401 bodies (`revoked` tells the agent to stop). */
export type CredentialRefusal = {
  kind: 'refused';
  /** `ambiguous`: a batch token presented without the environment it should enroll. */
  reason: 'unknown' | 'expired' | 'revoked' | 'used' | 'wrong_kind' | 'ambiguous';
};
const refused = (reason: CredentialRefusal['reason']): CredentialRefusal => ({ kind: 'refused', reason });

interface TimeOption {
  /** "Now" for expiry checks and stamps (default: the system time); tests pass their clock's. */
  now?: Date;
}

async function revokeUnusedEnrollments(tx: DbOrTx, environmentIds: readonly string[], now: Date): Promise<void> {
  await tx
    .update(dropletCredentials)
    .set({ revoked_at: now })
    .where(
      and(
        inArray(dropletCredentials.agent_droplet_id, [...environmentIds]),
        eq(dropletCredentials.kind, 'enrollment'),
        isNull(dropletCredentials.used_at),
        isNull(dropletCredentials.revoked_at),
      ),
    );
}

/**
 * Issues a single-use enrollment token for an environment (to put in its droplet's
 * user_data) and revokes the environment's earlier unused ones, so only the newest works.
 */
export async function issueEnrollmentToken(
  db: DbOrTx,
  environmentId: string,
  options: TimeOption & { ttlMs?: number } = {},
): Promise<IssuedCredential> {
  const batch = await issueBatchEnrollmentToken(db, [environmentId], options);
  return { credentialId: batch.credentialIds[0]!, environmentId, token: batch.token, expiresAt: batch.expiresAt };
}

/** One enrollment token bound to several environments, each by its own row. */
export interface IssuedBatchEnrollment {
  /** Credential row per environment, in the order given. */
  credentialIds: string[];
  environmentIds: string[];
  /** WARNING: the only copy of the secret. Never log it. */
  token: string;
  expiresAt: Date;
}

/**
 * Issues ONE enrollment token for the droplets of one multi-create: DigitalOcean shares
 * user_data across a request's `names`, so they all carry the same token. It is bound to
 * each environment by a row of its own, and redeeming it (`redeemEnrollmentToken` with the
 * `environmentId` the droplet's name says) spends only that environment's row, once. Each
 * environment's earlier unused enrollment tokens are revoked.
 *
 * Residual risk: whoever reads one droplet's user_data (its metadata service) holds the
 * token of its siblings too, but redeeming it for a sibling takes that sibling's environment
 * id — a random UUID that is in no user_data and in no other droplet's metadata. Should it
 * leak anyway, the sibling's own enrollment fails (`used`) and the lifecycle replaces it; the
 * hub could close even that by requiring the socket's source address to be the droplet's
 * public address (not done: behind a load balancer the source is the balancer's).
 */
export async function issueBatchEnrollmentToken(
  db: DbOrTx,
  environmentIds: readonly string[],
  options: TimeOption & { ttlMs?: number } = {},
): Promise<IssuedBatchEnrollment> {
  if (environmentIds.length === 0 || new Set(environmentIds).size !== environmentIds.length) {
    throw new RangeError('issueBatchEnrollmentToken: give one or more distinct environment ids');
  }
  const now = options.now ?? new Date();
  const expiresAt = new Date(now.getTime() + (options.ttlMs ?? DEFAULT_ENROLLMENT_TTL_MS));
  const token = newToken(ENROLLMENT_PREFIX);
  const tokenHash = hashToken(token);
  return db.transaction(async (tx) => {
    await revokeUnusedEnrollments(tx, environmentIds, now);
    const rows = await tx
      .insert(dropletCredentials)
      .values(
        environmentIds.map((id) => ({ agent_droplet_id: id, kind: 'enrollment' as const, token_hash: tokenHash, expires_at: expiresAt, created_at: now })),
      )
      .returning({ id: dropletCredentials.id, environmentId: dropletCredentials.agent_droplet_id });
    const byEnv = new Map(rows.map((r) => [r.environmentId, r.id]));
    return { credentialIds: environmentIds.map((id) => byEnv.get(id)!), environmentIds: [...environmentIds], token, expiresAt };
  });
}

async function insertAgentCredential(db: DbOrTx, environmentId: string, now: Date): Promise<IssuedCredential> {
  const token = newToken(AGENT_PREFIX);
  const [row] = await db
    .insert(dropletCredentials)
    .values({ agent_droplet_id: environmentId, kind: 'agent', token_hash: hashToken(token), created_at: now })
    .returning({ id: dropletCredentials.id });
  return { credentialId: row!.id, environmentId, token, expiresAt: null };
}

/**
 * Trades an enrollment token for a new agent credential. The token is spent atomically
 * (`used_at is null` in the UPDATE's WHERE): of two concurrent redemptions one wins, and a
 * reused, expired, revoked or unknown token is refused with nothing written. The
 * environment's earlier agent credentials are revoked: one live droplet per environment.
 *
 * `environmentId` names the environment to enroll (the hub takes it from the droplet's
 * name, `tb-<environmentId>`, which the agent presents). It is required for a batch token
 * (bound to several environments): without it such a token is refused as `ambiguous` and
 * nothing is spent. With it, only that environment's row of the token is spent.
 *
 * Enrollment completes when the agent confirms the credential it got. Until then, and from
 * `retryAfterMs` (default `ENROLLMENT_RETRY_AFTER_MS`) after the last redemption, the token
 * may be redeemed again: the unconfirmed credential is revoked and a new one issued. Once a
 * credential issued since the token's redemption is confirmed, the token is `used` for good.
 */
export async function redeemEnrollmentToken(
  db: DbOrTx,
  token: string,
  options: TimeOption & { environmentId?: string; retryAfterMs?: number } = {},
): Promise<Found<IssuedCredential & { agentId: string }> | CredentialRefusal> {
  const now = options.now ?? new Date();
  const retryBefore = new Date(now.getTime() - (options.retryAfterMs ?? ENROLLMENT_RETRY_AFTER_MS));
  const hash = hashToken(token);
  const { environmentId } = options;
  if (environmentId !== undefined && !UUID.test(environmentId)) return refused('unknown');
  return db.transaction(async (tx) => {
    if (environmentId === undefined && (await bindingsOf(tx, hash)) > 1) return refused('ambiguous');
    const [spent] = await tx
      .update(dropletCredentials)
      .set({ used_at: now })
      .where(
        and(
          eq(dropletCredentials.token_hash, hash),
          environmentId === undefined ? undefined : eq(dropletCredentials.agent_droplet_id, environmentId),
          eq(dropletCredentials.kind, 'enrollment'),
          or(isNull(dropletCredentials.used_at), unconfirmedSince(retryBefore)),
          isNull(dropletCredentials.revoked_at),
          gt(dropletCredentials.expires_at, now),
        ),
      )
      .returning({ environmentId: dropletCredentials.agent_droplet_id });
    if (!spent) return explainRefusal(tx, hash, 'enrollment', { now, environmentId });
    await tx
      .update(dropletCredentials)
      .set({ revoked_at: now })
      .where(
        and(
          eq(dropletCredentials.agent_droplet_id, spent.environmentId),
          eq(dropletCredentials.kind, 'agent'),
          isNull(dropletCredentials.revoked_at),
        ),
      );
    const [owner] = await tx.select({ agentId: agentDroplets.agent_id }).from(agentDroplets).where(eq(agentDroplets.id, spent.environmentId));
    return ok({ ...(await insertAgentCredential(tx, spent.environmentId, now)), agentId: owner!.agentId });
  });
}

/**
 * For the enrollment row being updated: redeemed before `retryBefore`, and no agent
 * credential issued since that redemption has been confirmed (see `redeemEnrollmentToken`).
 */
function unconfirmedSince(retryBefore: Date) {
  return sql`(${dropletCredentials.used_at} < ${retryBefore.toISOString()}::timestamptz and not exists (
    select 1 from droplet_credentials confirmed
    where confirmed.agent_droplet_id = ${dropletCredentials.agent_droplet_id}
      and confirmed.kind = 'agent'
      and confirmed.used_at is not null
      and confirmed.created_at >= ${dropletCredentials.used_at}))`;
}

/** How many environments a token hash is bound to. */
async function bindingsOf(db: DbOrTx, hash: string): Promise<number> {
  const rows = await db
    .select({ id: dropletCredentials.id })
    .from(dropletCredentials)
    .where(eq(dropletCredentials.token_hash, hash))
    .limit(2);
  return rows.length;
}

async function explainRefusal(
  db: DbOrTx,
  hash: string,
  kind: 'enrollment' | 'agent',
  at: { now: Date; environmentId?: string | undefined },
): Promise<CredentialRefusal> {
  const { now, environmentId } = at;
  const [row] = await db
    .select()
    .from(dropletCredentials)
    .where(
      and(
        eq(dropletCredentials.token_hash, hash),
        environmentId === undefined ? undefined : eq(dropletCredentials.agent_droplet_id, environmentId),
      ),
    )
    .limit(1);
  if (!row) return refused('unknown');
  if (row.kind !== kind) return refused('wrong_kind');
  if (row.revoked_at) return refused('revoked');
  if (kind === 'enrollment' && row.used_at) return refused('used');
  if (row.expires_at && row.expires_at.getTime() <= now.getTime()) return refused('expired');
  return refused('unknown');
}

/** Who a credential belongs to. */
export interface AuthenticatedAgent {
  credentialId: string;
  environmentId: string;
  /** The agent the environment belongs to (the environment reconciler's key). */
  agentId: string;
  /** When the credential was issued (the hub rotates old ones). */
  issuedAt: Date;
}

/** What a bearer token turned out to be: an agent credential or an enrollment token to redeem. */
export type BearerKind = { kind: 'agent' | 'enrollment' } | { kind: 'unknown' };

/** Tells which kind of token the bearer claims to be, by its prefix (no database access). */
export function bearerKind(token: string): BearerKind {
  if (token.startsWith(AGENT_PREFIX)) return { kind: 'agent' };
  if (token.startsWith(ENROLLMENT_PREFIX)) return { kind: 'enrollment' };
  return { kind: 'unknown' };
}

/**
 * Checks an agent credential: known, of kind `agent`, not revoked, not expired. The first
 * successful use of a credential confirms it (see `confirmAgentCredential`).
 */
export async function authenticateAgentCredential(
  db: DbOrTx,
  token: string,
  options: TimeOption = {},
): Promise<Found<AuthenticatedAgent> | CredentialRefusal> {
  const now = options.now ?? new Date();
  const hash = hashToken(token);
  const [found] = await db
    .select({ row: dropletCredentials, agentId: agentDroplets.agent_id })
    .from(dropletCredentials)
    .innerJoin(agentDroplets, eq(agentDroplets.id, dropletCredentials.agent_droplet_id))
    .where(eq(dropletCredentials.token_hash, hash));
  const row = found?.row;
  if (!row || row.kind !== 'agent' || row.revoked_at || (row.expires_at && row.expires_at.getTime() <= now.getTime())) {
    return explainRefusal(db, hash, 'agent', { now });
  }
  if (!row.used_at) await confirmAgentCredential(db, row.agent_droplet_id, row.id, options);
  return ok({ credentialId: row.id, environmentId: row.agent_droplet_id, agentId: found.agentId, issuedAt: row.created_at });
}

/**
 * Issues a replacement agent credential for an environment. `current` (the credential the
 * agent is known to hold) keeps working until the agent confirms the new one; earlier
 * replacements the agent never confirmed are revoked.
 */
export async function rotateAgentCredential(
  db: DbOrTx,
  environmentId: string,
  options: TimeOption & { current: string },
): Promise<IssuedCredential> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    await tx
      .update(dropletCredentials)
      .set({ revoked_at: now })
      .where(
        and(
          eq(dropletCredentials.agent_droplet_id, environmentId),
          eq(dropletCredentials.kind, 'agent'),
          ne(dropletCredentials.id, options.current),
          isNull(dropletCredentials.used_at),
          isNull(dropletCredentials.revoked_at),
        ),
      );
    return insertAgentCredential(tx, environmentId, now);
  });
}

/**
 * Records that the agent holds `credentialId` and revokes the environment's other agent
 * credentials (the end of a rotation). Not found when the credential is not this
 * environment's live agent credential — an agent cannot confirm another droplet's.
 */
export async function confirmAgentCredential(
  db: DbOrTx,
  environmentId: string,
  credentialId: string,
  options: TimeOption = {},
): Promise<Found<{ revokedOthers: number }> | NotFound> {
  if (!UUID.test(credentialId)) return notFound;
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(dropletCredentials)
      .set({ used_at: sql`coalesce(${dropletCredentials.used_at}, ${now.toISOString()}::timestamptz)` })
      .where(
        and(
          eq(dropletCredentials.id, credentialId),
          eq(dropletCredentials.agent_droplet_id, environmentId),
          eq(dropletCredentials.kind, 'agent'),
          isNull(dropletCredentials.revoked_at),
        ),
      )
      .returning({ id: dropletCredentials.id });
    if (!row) return notFound;
    const others = await tx
      .update(dropletCredentials)
      .set({ revoked_at: now })
      .where(
        and(
          eq(dropletCredentials.agent_droplet_id, environmentId),
          eq(dropletCredentials.kind, 'agent'),
          ne(dropletCredentials.id, credentialId),
          isNull(dropletCredentials.revoked_at),
        ),
      )
      .returning({ id: dropletCredentials.id });
    return ok({ revokedOthers: others.length });
  });
}

/**
 * Revokes every credential of an environment (de-provisioning) and, in the same statement,
 * NOTIFYs `toolbelt_credentials_revoked` so that whichever replica holds the agent's socket
 * closes it (close code 4004). Returns how many credentials were revoked.
 */
export async function revokeDropletCredentials(db: DbOrTx, environmentId: string, options: TimeOption = {}): Promise<number> {
  const now = options.now ?? new Date();
  const rows = rowsOf<{ n: number | string }>(
    await db.execute(sql`
      with revoked as (
        update droplet_credentials set revoked_at = ${now.toISOString()}
        where agent_droplet_id = ${environmentId} and revoked_at is null
          and not (kind = 'enrollment' and used_at is not null)
        returning id
      )
      select (select count(*) from revoked) as n, pg_notify(${CREDENTIALS_REVOKED_CHANNEL}, ${environmentId}::text)`),
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Leader election and fencing through a Postgres lease (`leases`).
 *
 * Time is the database's: expiry is `now()` + TTL and every check compares with the
 * database's `now()`, so replicas whose clocks disagree still agree on who holds a lease.
 * `epoch` grows with every acquisition (a new term), so a write guarded by
 * `checkFence`/`withFence` from a deposed leader — which still believes in its old epoch —
 * is refused (STYLE.md lesson 7).
 */
import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { ToolbeltError } from './errors.ts';
import { type Found, ok } from './outcomes.ts';
import { rowsOf } from './raw.ts';
import { leases } from './tables.ts';

export type Lease = typeof leases.$inferSelect;

/** What a leader holds: the lease, who it is, and the epoch it won. */
export interface LeaseToken {
  readonly name: string;
  readonly holder: string;
  readonly epoch: number;
}

export interface AcquireLeaseParams {
  name: string;
  holder: string;
  /** How long the lease lasts from the database's `now()` unless renewed. */
  ttlMs: number;
}

/** The lease is ours, for a new term: `lease.epoch` is the fencing epoch of that term. */
export type LeaseAcquired = { kind: 'acquired'; lease: Lease };
/** Someone else holds an unexpired lease. */
export type LeaseHeld = { kind: 'held'; lease: Lease };
/** Our lease lapsed or changed hands: we are no longer leader. */
export type LeaseLost = { kind: 'lost' };
/** The fence check failed: the write must not happen. */
export type Fenced = { kind: 'fenced'; reason: string };

/**
 * Takes the lease if it is free, expired or already held by `holder`, in one statement.
 * Every acquisition starts a new term with the next epoch — also when the holder takes its
 * own live lease again (say, after a restart): work begun under an earlier term must not
 * pass the fence. A leader keeps its term with `renewLease`.
 */
export async function tryAcquireLease(db: DbOrTx, params: AcquireLeaseParams): Promise<LeaseAcquired | LeaseHeld> {
  checkTtl(params.ttlMs);
  const [taken] = await db
    .insert(leases)
    .values({
      name: params.name,
      holder: params.holder,
      expires_at: sql`now() + ${params.ttlMs} * interval '1 millisecond'`,
    })
    .onConflictDoUpdate({
      target: leases.name,
      set: {
        holder: sql`excluded.holder`,
        epoch: sql`${leases.epoch} + 1`,
        acquired_at: sql`now()`,
        renewed_at: sql`now()`,
        expires_at: sql`excluded.expires_at`,
      },
      setWhere: sql`${leases.holder} = excluded.holder or ${leases.expires_at} <= now()`,
    })
    .returning();
  if (taken) return { kind: 'acquired', lease: taken };
  const current = await getLease(db, params.name);
  // The holder may have released it between the two statements: report it held; the next
  // attempt takes it.
  return { kind: 'held', lease: current! };
}

/**
 * Extends a lease we hold by `ttlMs` from the database's now. `lost` when it lapsed or
 * changed hands: the caller must stop acting as leader at once.
 */
export async function renewLease(db: DbOrTx, token: LeaseToken, ttlMs: number): Promise<Found<Lease> | LeaseLost> {
  checkTtl(ttlMs);
  const [row] = await db
    .update(leases)
    .set({ renewed_at: sql`now()`, expires_at: sql`now() + ${ttlMs} * interval '1 millisecond'` })
    .where(and(ownedBy(token), sql`${leases.expires_at} > now()`))
    .returning();
  return row ? ok(row) : { kind: 'lost' };
}

/**
 * Gives a lease up so that another replica can take it without waiting for expiry. The
 * holder stays recorded, so whoever takes it next gets a new epoch. False when it was not
 * ours any more.
 */
export async function releaseLease(db: DbOrTx, token: LeaseToken): Promise<boolean> {
  const rows = await db
    .update(leases)
    .set({ expires_at: sql`now()` })
    .where(and(ownedBy(token), sql`${leases.expires_at} > now()`))
    .returning({ name: leases.name });
  return rows.length > 0;
}

export async function getLease(db: DbOrTx, name: string): Promise<Lease | undefined> {
  const [row] = await db.select().from(leases).where(eq(leases.name, name));
  return row;
}

/** A write refused because this replica no longer holds the lease at the epoch it acted under. */
export class FencedError extends ToolbeltError {
  readonly token: LeaseToken | undefined;

  constructor(token: LeaseToken | undefined, reason: string) {
    super('LEASE_FENCED', `write refused: ${reason}`, {
      hint: 'this replica is not the leader (any more); the current leader redoes the work',
    });
    this.name = 'FencedError';
    this.token = token;
  }
}

/**
 * Checks, inside a transaction, that `token` is still the live lease, and share-locks the
 * lease row until the transaction ends. WARNING: only meaningful inside a transaction that
 * also carries the guarded write: the lock is what keeps a new leader from taking the lease
 * (its update waits) between this check and the commit.
 */
export async function checkFence(tx: DbOrTx, token: LeaseToken): Promise<{ kind: 'ok' } | Fenced> {
  const rows = rowsOf<{ epoch: string | number; live: boolean; holder: string }>(
    await tx.execute(sql`select holder, epoch, expires_at > now() as live from leases
      where name = ${token.name} for share`),
  );
  const row = rows[0];
  if (!row) return { kind: 'fenced', reason: `lease "${token.name}" does not exist` };
  if (row.holder !== token.holder || Number(row.epoch) !== token.epoch) {
    return {
      kind: 'fenced',
      reason: `lease "${token.name}" is at epoch ${row.epoch} held by ${row.holder}, not epoch ${token.epoch} held by ${token.holder}`,
    };
  }
  if (!row.live) return { kind: 'fenced', reason: `lease "${token.name}" (epoch ${token.epoch}) has expired` };
  return { kind: 'ok' };
}

/** A condition for the WHERE clause of one write statement; see `fenceCondition`. */
export type FenceCondition = SQL;

/**
 * A WHERE condition that holds only while `token` is the live lease, and share-locks the
 * lease row until the statement's transaction ends. Added to a single UPDATE (or INSERT …
 * SELECT … WHERE), it makes that statement a fenced write in one round trip — a quarter of
 * `withFence`'s — that changes nothing once the lease has moved on. A new leader's
 * acquisition waits for the lock, or, if it committed first, the condition sees its epoch.
 * Zero rows written can then mean "fenced" or "no such row": `checkFence` tells which.
 */
export function fenceCondition(token: LeaseToken): FenceCondition {
  return sql`exists (select 1 from ${leases} where ${leases.name} = ${token.name}
    and ${leases.holder} = ${token.holder} and ${leases.epoch} = ${token.epoch}
    and ${leases.expires_at} > now() for share)`;
}

/**
 * Runs `write` in a transaction that first passes `checkFence`; a stale token changes
 * nothing and returns `fenced`.
 */
export async function withFence<T>(
  db: DbOrTx,
  token: LeaseToken,
  write: (tx: DbOrTx) => Promise<T>,
): Promise<Found<T> | Fenced> {
  return db.transaction(async (tx) => {
    const check = await checkFence(tx, token);
    if (check.kind === 'fenced') return check;
    return ok(await write(tx));
  });
}

function ownedBy(token: LeaseToken) {
  return and(eq(leases.name, token.name), eq(leases.holder, token.holder), eq(leases.epoch, token.epoch));
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new ToolbeltError('LEASE_TTL_INVALID', `lease TTL must be a positive number of milliseconds, got ${ttlMs}`);
  }
}

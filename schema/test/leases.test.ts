import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import {
  createAgent,
  type Db,
  FencedError,
  getLease,
  type LeaseToken,
  releaseLease,
  renewLease,
  tryAcquireLease,
  withFence,
  checkFence,
  listAgents,
  openDatabase,
  rowsOf,
  fenceCondition,
  agents,
} from '../src/index.ts';
import { and, eq } from 'drizzle-orm';
import { describeEachDatabase } from '../src/testing.ts';

const TTL = 60_000;

/** Moves a lease's expiry into the past, as if its TTL had run out without renewal. */
async function expire(db: Db, name: string) {
  await db.execute(sql`update leases set expires_at = now() - interval '1 second' where name = ${name}`);
}

async function acquire(db: Db, name: string, holder: string): Promise<LeaseToken> {
  const result = await tryAcquireLease(db, { name, holder, ttlMs: TTL });
  if (result.kind !== 'acquired') throw new Error(`${holder} could not take ${name}: held by ${result.lease.holder}`);
  return { name, holder, epoch: result.lease.epoch };
}

describeEachDatabase('leases', (t) => {
  it('gives a free lease to the first taker and refuses a second while it lives', async () => {
    const a = await tryAcquireLease(t.db, { name: 'l1', holder: 'a', ttlMs: TTL });
    expect(a).toMatchObject({ kind: 'acquired', lease: { holder: 'a', epoch: 1 } });
    const b = await tryAcquireLease(t.db, { name: 'l1', holder: 'b', ttlMs: TTL });
    expect(b).toMatchObject({ kind: 'held', lease: { holder: 'a', epoch: 1 } });
  });

  it('starts a new term with a new epoch when a holder takes its own live lease again', async () => {
    const first = await acquire(t.db, 'l1b', 'a');
    const again = await acquire(t.db, 'l1b', 'a');
    expect(again.epoch).toBe(first.epoch + 1);
    expect(await renewLease(t.db, first, TTL)).toEqual({ kind: 'lost' });
    expect(await withFence(t.db, first, async () => 'late')).toMatchObject({ kind: 'fenced' });
  });

  it('hands an expired lease to another holder with a new epoch; the old holder then cannot renew', async () => {
    const a = await acquire(t.db, 'l2', 'a');
    await expire(t.db, 'l2');
    const b = await acquire(t.db, 'l2', 'b');
    expect(b.epoch).toBe(a.epoch + 1);
    expect(await renewLease(t.db, a, TTL)).toEqual({ kind: 'lost' });
    const renewed = await renewLease(t.db, b, TTL);
    expect(renewed).toMatchObject({ kind: 'ok', value: { holder: 'b', epoch: b.epoch } });
  });

  it('bumps the epoch when a holder takes its own lease again after it lapsed', async () => {
    const first = await acquire(t.db, 'l3', 'a');
    await expire(t.db, 'l3');
    expect(await renewLease(t.db, first, TTL)).toEqual({ kind: 'lost' });
    const second = await acquire(t.db, 'l3', 'a');
    expect(second.epoch).toBe(first.epoch + 1);
  });

  it('expires in database time: renewal moves expires_at ttl past now()', async () => {
    const a = await acquire(t.db, 'l4', 'a');
    const renewed = await renewLease(t.db, a, 5_000);
    if (renewed.kind !== 'ok') throw new Error('renewal failed');
    const lease = renewed.value;
    expect(lease.expires_at.getTime() - lease.renewed_at.getTime()).toBe(5_000);
  });

  it('release lets another replica take over at once, with a new epoch', async () => {
    const a = await acquire(t.db, 'l5', 'a');
    expect(await tryAcquireLease(t.db, { name: 'l5', holder: 'b', ttlMs: TTL })).toMatchObject({ kind: 'held' });
    expect(await releaseLease(t.db, a)).toBe(true);
    expect(await releaseLease(t.db, a)).toBe(false);
    const b = await acquire(t.db, 'l5', 'b');
    expect(b.epoch).toBe(a.epoch + 1);
    expect((await getLease(t.db, 'l5'))?.holder).toBe('b');
  });

  it('refuses a bad TTL with a clear error and writes nothing', async () => {
    await expect(tryAcquireLease(t.db, { name: 'l6', holder: 'a', ttlMs: 0 })).rejects.toThrow(/TTL must be a positive/);
    expect(await getLease(t.db, 'l6')).toBeUndefined();
  });

  it('a fenced write runs for the live holder and is refused, changing nothing, for a deposed one', async () => {
    const a = await acquire(t.db, 'l7', 'a');
    const written = await withFence(t.db, a, async (tx) => createAgent(tx, { name: 'by-a' }));
    expect(written.kind).toBe('ok');

    await expire(t.db, 'l7');
    expect(await withFence(t.db, a, async (tx) => createAgent(tx, { name: 'late-a' }))).toMatchObject({
      kind: 'fenced',
      reason: expect.stringMatching(/has expired/),
    });
    const b = await acquire(t.db, 'l7', 'b');
    const late = await withFence(t.db, a, async (tx) => createAgent(tx, { name: 'late-a' }));
    expect(late).toMatchObject({ kind: 'fenced', reason: expect.stringMatching(/epoch 2 held by b/) });
    expect(await withFence(t.db, b, async () => 'ok')).toEqual({ kind: 'ok', value: 'ok' });
    expect((await listAgents(t.db, { limit: 10 })).map((x) => x.name)).toEqual(['by-a']);
  });

  it('fences a single statement by its WHERE condition: it writes only while the lease holds', async () => {
    const created = await createAgent(t.db, { name: 'cond-target' });
    if (created.kind !== 'ok') throw new Error('setup');
    const id = created.value.id;
    const a = await acquire(t.db, 'l8', 'a');
    const rename = (token: LeaseToken, description: string) =>
      t.db
        .update(agents)
        .set({ description })
        .where(and(eq(agents.id, id), fenceCondition(token)))
        .returning({ id: agents.id });
    expect(await rename(a, 'by the leader')).toHaveLength(1);
    await expire(t.db, 'l8');
    const b = await acquire(t.db, 'l8', 'b');
    expect(await rename(a, 'late')).toHaveLength(0);
    expect(await checkFence(t.db, a)).toMatchObject({ kind: 'fenced' });
    expect(await rename(b, 'by the new leader')).toHaveLength(1);
    const [row] = await t.db.select().from(agents).where(eq(agents.id, id));
    expect(row?.description).toBe('by the new leader');
  });

  it('fences a lease that does not exist', async () => {
    const token = { name: 'nope', holder: 'a', epoch: 1 };
    expect(await t.db.transaction((tx) => checkFence(tx, token))).toMatchObject({ kind: 'fenced' });
    const error = new FencedError(token, 'gone');
    expect(error.code).toBe('LEASE_FENCED');
    expect(error.describe()).toMatch(/write refused: gone — this replica is not the leader/);
  });

  if (t.kind !== 'postgres') return;

  it('holds a new leader off while a fenced write is in flight (the share lock)', async () => {
    await acquire(t.db, 'l9', 'a');
    const token = { name: 'l9', holder: 'a', epoch: 1 };
    const other = await openDatabase({ url: t.url, maxConnections: 1 });
    try {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let checked: () => void = () => {};
      const inside = new Promise<void>((resolve) => (checked = resolve));
      const write = t.db.transaction(async (tx) => {
        expect(await checkFence(tx, token)).toEqual({ kind: 'ok' });
        checked();
        await held;
        return createAgent(tx, { name: 'written-under-lock' });
      });
      await inside;
      // The lease is given up elsewhere meanwhile: that update has to wait for the write.
      // (drizzle queries run when awaited or then'd: start it now)
      const takeover = other.db.execute(sql`update leases set expires_at = now() where name = 'l9'`).then(() => {});
      const waiting = async () =>
        rowsOf<{ n: number }>(
          await t.db.execute(sql`select count(*)::int as n from pg_stat_activity
            where wait_event_type = 'Lock' and query like 'update leases set expires_at%'`),
        )[0]!.n;
      while ((await waiting()) === 0) await new Promise((r) => setImmediate(r));
      release();
      expect((await write).kind).toBe('ok');
      await takeover;
      expect(await withFence(t.db, token, async () => 'late')).toMatchObject({ kind: 'fenced' });
    } finally {
      await other.close();
    }
  });
});

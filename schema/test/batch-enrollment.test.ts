/**
 * Batch enrollment tokens: one token for the droplets of one multi-create (DigitalOcean
 * shares user_data across `names`), bound to each environment by its own row and redeemed
 * once per environment, never for an environment outside the batch.
 */
import {
  createAgent,
  createEnvironment,
  dropletCredentials,
  hashToken,
  isDropletAddress,
  issueBatchEnrollmentToken,
  redeemEnrollmentToken,
  revokeDropletCredentials,
  updateEnvironmentStatus,
} from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';

function value<T>(result: { kind: string; value?: T }): T {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value as T;
}

let names = 0;

describeEachDatabase('batch enrollment tokens', (t) => {
  async function environments(n: number) {
    const out = [];
    for (let i = 0; i < n; i += 1) {
      names += 1;
      const agent = value(await createAgent(t.db, { name: `batch-${names}` }));
      out.push(value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's-1vcpu-1gb' })));
    }
    return out;
  }

  it('binds one token to each environment of the batch, redeemable once per environment', async () => {
    const [a, b, c] = await environments(3);
    const batch = await issueBatchEnrollmentToken(t.db, [a!.id, b!.id], { ttlMs: 60_000 });
    const rows = await t.db.select().from(dropletCredentials).where(eq(dropletCredentials.token_hash, hashToken(batch.token)));
    expect(rows.map((r) => r.agent_droplet_id).sort()).toEqual([a!.id, b!.id].sort());

    const forA = value(await redeemEnrollmentToken(t.db, batch.token, { environmentId: a!.id }));
    expect(forA.environmentId).toBe(a!.id);
    expect(await redeemEnrollmentToken(t.db, batch.token, { environmentId: a!.id })).toEqual({ kind: 'refused', reason: 'used' });
    // Not bound to c: refused, and nothing of c's is written.
    expect(await redeemEnrollmentToken(t.db, batch.token, { environmentId: c!.id })).toEqual({ kind: 'refused', reason: 'unknown' });
    expect(await t.db.select().from(dropletCredentials).where(eq(dropletCredentials.agent_droplet_id, c!.id))).toEqual([]);
    const forB = value(await redeemEnrollmentToken(t.db, batch.token, { environmentId: b!.id }));
    expect(forB.environmentId).toBe(b!.id);
    expect(forB.token).not.toBe(forA.token);
  });

  it('refuses a batch token presented without an environment, spending nothing', async () => {
    const [a, b] = await environments(2);
    const batch = await issueBatchEnrollmentToken(t.db, [a!.id, b!.id], { ttlMs: 60_000 });
    expect(await redeemEnrollmentToken(t.db, batch.token)).toEqual({ kind: 'refused', reason: 'ambiguous' });
    const rows = await t.db.select().from(dropletCredentials).where(eq(dropletCredentials.token_hash, hashToken(batch.token)));
    expect(rows.every((r) => r.used_at === null)).toBe(true);
    value(await redeemEnrollmentToken(t.db, batch.token, { environmentId: a!.id }));
  });

  it('revokes earlier unused tokens of each environment, and revocation covers batch rows', async () => {
    const [a, b] = await environments(2);
    const first = await issueBatchEnrollmentToken(t.db, [a!.id, b!.id], { ttlMs: 60_000 });
    const second = await issueBatchEnrollmentToken(t.db, [a!.id], { ttlMs: 60_000 });
    expect(await redeemEnrollmentToken(t.db, first.token, { environmentId: a!.id })).toEqual({ kind: 'refused', reason: 'revoked' });
    value(await redeemEnrollmentToken(t.db, second.token, { environmentId: a!.id }));
    expect(await revokeDropletCredentials(t.db, b!.id)).toBe(1);
    expect(await redeemEnrollmentToken(t.db, first.token, { environmentId: b!.id })).toEqual({ kind: 'refused', reason: 'revoked' });
  });

  it('refuses an empty or repeating list of environments', async () => {
    const [a] = await environments(1);
    await expect(issueBatchEnrollmentToken(t.db, [])).rejects.toThrow(/distinct environment ids/);
    await expect(issueBatchEnrollmentToken(t.db, [a!.id, a!.id])).rejects.toThrow(/distinct environment ids/);
  });
});

describeEachDatabase('droplet address check', (t) => {
  it('accepts only the public address the lifecycle recorded for the environment', async () => {
    const agent = await createAgent(t.db, { name: 'addr-1' });
    if (agent.kind !== 'ok') throw new Error(agent.reason);
    const env = await createEnvironment(t.db, agent.value.id, { region: 'nyc3', size: 's-1vcpu-1gb' });
    if (env.kind !== 'ok') throw new Error(env.reason);
    expect(await isDropletAddress(t.db, env.value.id, '203.0.113.7')).toBe(false);
    await updateEnvironmentStatus(t.db, env.value.id, { ip_address: '203.0.113.7' });
    expect(await isDropletAddress(t.db, env.value.id, '203.0.113.7')).toBe(true);
    expect(await isDropletAddress(t.db, env.value.id, '::ffff:203.0.113.7')).toBe(true);
    expect(await isDropletAddress(t.db, env.value.id, '198.51.100.1')).toBe(false);
    expect(await isDropletAddress(t.db, 'not-a-uuid', '203.0.113.7')).toBe(false);
  });
});

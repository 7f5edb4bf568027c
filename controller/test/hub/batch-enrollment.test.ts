import { issueBatchEnrollmentToken } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { startAgentProcess } from './agent-process.ts';
import { startTestHub } from '../support/hub.ts';
import { makeEnvironment } from '../support/rows.ts';
import { environmentOfDropletName } from '../../src/hub/upgrade.ts';

describeEachDatabase('batch enrollment (one token in the shared user_data of a batch create)', (t) => {
  it('enrolls each real agent as the environment its droplet name names, once', async () => {
    const hub = await startTestHub(t.database);
    const [a, b] = [await makeEnvironment(t.db), await makeEnvironment(t.db)];
    const batch = await issueBatchEnrollmentToken(t.db, [a.id, b.id]);

    const agents = [startAgentProcess(hub.url, batch.token, `tb-${a.id}`), startAgentProcess(hub.url, batch.token, `tb-${b.id}`)];
    await expect.poll(() => hub.hub.isConnected(a.id) && hub.hub.isConnected(b.id), { timeout: 60_000 }).toBe(true);

    const rows = await t.db.execute(
      sql`select agent_droplet_id::text as env, kind, used_at is not null as used from droplet_credentials order by kind`,
    );
    const list = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as { env: string; kind: string; used: boolean }[];
    expect(list.filter((r) => r.kind === 'enrollment').every((r) => r.used)).toBe(true);
    expect(list.filter((r) => r.kind === 'agent').map((r) => r.env).sort()).toEqual([a.id, b.id].sort());
    await Promise.all(agents.map((agent) => agent.kill()));
    await hub.stop();
  }, 90_000);
});

it('reads the environment id from a droplet name, and nothing else', () => {
  const id = '216b401d-55ff-402d-84ba-738dff88b335';
  expect(environmentOfDropletName(`tb-${id}`)).toBe(id);
  expect(environmentOfDropletName([`tb-${id}`])).toBe(id);
  expect(environmentOfDropletName('vm')).toBeUndefined();
  expect(environmentOfDropletName(`tb-${id}x`)).toBeUndefined();
  expect(environmentOfDropletName(undefined)).toBeUndefined();
});

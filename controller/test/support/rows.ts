/**
 * Rows the controller's tests start from: agents with environments, environments whose agent
 * already holds a credential (one by one, or thousands in three statements), tool instances.
 */
import { randomBytes } from 'node:crypto';
import {
  type Db,
  addToolInstance,
  createAgent,
  createCatalogTool,
  createEnvironment,
  issueEnrollmentToken,
  TOKEN_PREFIXES,
  hashToken,
  redeemEnrollmentToken,
  rowsOf,
} from '@toolbelt/schema';
import { sql } from 'drizzle-orm';

let counter = 0;

/** An agent row and its environment. */
export async function makeEnvironment(db: Db) {
  counter += 1;
  const agent = await createAgent(db, { name: `hub-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 6)}` });
  if (agent.kind !== 'ok') throw new Error('agent not created');
  const env = await createEnvironment(db, agent.value.id, { region: 'nyc3', size: 's-1vcpu-1gb' });
  if (env.kind !== 'ok') throw new Error('environment not created');
  return env.value;
}

/** An environment whose agent already holds a credential (enrolled earlier). */
export async function enrolledEnvironment(db: Db) {
  const env = await makeEnvironment(db);
  const enrollment = await issueEnrollmentToken(db, env.id);
  const redeemed = await redeemEnrollmentToken(db, enrollment.token);
  if (redeemed.kind !== 'ok') throw new Error('enrollment failed');
  return { env, credential: redeemed.value.token, credentialId: redeemed.value.credentialId };
}

/**
 * `n` environments whose agents hold credentials, written in three statements (load tests
 * and benchmarks need thousands). Returns each environment's id and credential.
 */
export async function bulkEnrolledEnvironments(db: Db, n: number): Promise<{ environmentId: string; token: string }[]> {
  const prefix = `bulk-${process.pid}-${Date.now().toString(36)}`;
  const ids = rowsOf<{ id: string }>(
    await db.execute(sql`
      with a as (insert into agents (name) select ${prefix} || '-' || g from generate_series(1, ${n}) g returning id)
      insert into agent_droplets (agent_id, region, size) select id, 'nyc3', 's-1vcpu-1gb' from a returning id`),
  );
  const rows = ids.map(({ id }) => ({ environmentId: id, token: TOKEN_PREFIXES.agent + randomBytes(32).toString('base64url') }));
  const json = JSON.stringify(rows.map((r) => ({ env: r.environmentId, hash: hashToken(r.token) })));
  await db.execute(sql`
    insert into droplet_credentials (agent_droplet_id, kind, token_hash, used_at)
    select env, 'agent', hash, now() from jsonb_to_recordset(${json}::jsonb) as v(env uuid, hash text)`);
  return rows;
}

/** A tool instance on an environment. */
export async function makeTool(db: Db, environmentId: string) {
  counter += 1;
  const catalog = await createCatalogTool(db, {
    tool_name: `tool-${process.pid}-${counter}`,
    version_info: { versions: ['1.0.0'], default: '1.0.0' },
    packaging_type: 'npm_package',
    package_identifier: 'echo',
  });
  if (catalog.kind !== 'ok') throw new Error('catalog tool not created');
  const tool = await addToolInstance(db, environmentId, { tool_catalog_id: catalog.value.id, instance_name: `t${counter}`, version: '1.0.0' });
  if (tool.kind !== 'ok') throw new Error('tool not created');
  return tool.value;
}

/**
 * The generation triggers (migration 0006), column by column: every spec column moves
 * `generation` by one, every other column leaves it, and every column of each table is
 * classified here — a column added to a table fails this test until it is placed (and, if it
 * is spec, added to its table's trigger in a new migration).
 */
import { getTableColumns, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { afterEach, expect, it } from 'vitest';
import { addToolInstance, createAgent, createCatalogTool, createEnvironment, type Db, rowsOf } from '../src/index.ts';
import { agentDroplets, agentDropletTools, agents, toolCatalog } from '../src/tables.ts';
import { describeEachDatabase, truncateAll } from '../src/testing.ts';

/** Per table: each spec column with an SQL expression that changes it; the rest are not spec. */
interface Case {
  table: PgTable;
  name: string;
  spec: Record<string, string>;
  /** Non-spec columns with an expression that changes them (ids and bookkeeping are left out). */
  status: Record<string, string>;
  /** Columns no test writes: keys, foreign keys, bookkeeping. */
  fixed: string[];
}

const CASES: Case[] = [
  {
    table: agents,
    name: 'agents',
    spec: {
      name: `name || '-renamed'`,
      description: `description || ' more'`,
      tool_environment_active: 'not tool_environment_active',
      deletion_requested_at: 'now()',
    },
    // external_id is an address for other systems, not spec: a new one asks nothing of the
    // droplet, so it must not move generation (tested as a status column is).
    status: { external_id: `'ext-' || id` },
    fixed: ['id', 'generation', 'created_at', 'updated_at'],
  },
  {
    table: agentDroplets,
    name: 'agent_droplets',
    spec: { region: `'ams3'`, size: `'s-2vcpu-2gb'`, image: `'debian-12-x64'` },
    status: {
      droplet_id: '4242',
      ip_address: `'203.0.113.7'`,
      private_ip_address: `'10.0.0.7'`,
      status: `'active'`,
      observed_generation: 'observed_generation + 1',
      conditions: `'[{"type":"Ready"}]'::jsonb`,
      create_requested_at: 'now()',
      last_heartbeat_at: 'now()',
      agent_version: `'9.9.9'`,
      host_metrics: `'{"load1":1}'::jsonb`,
      // The lifecycle's count toward BootFailed: counted and reset by the controller.
      boot_failures: 'boot_failures + 1',
    },
    fixed: ['id', 'agent_id', 'generation', 'created_at', 'updated_at'],
  },
  {
    table: toolCatalog,
    name: 'tool_catalog',
    spec: {
      tool_name: `tool_name || '-2'`,
      description: `description || ' more'`,
      version_info: `'{"versions":["2.0.0"],"default":"2.0.0"}'::jsonb`,
      packaging_type: `'docker_image'`,
      package_identifier: `package_identifier || '-2'`,
      default_config_template: `'{"type":"object"}'::jsonb`,
      transport: `'mcp-http'`,
      ports: `'[9000]'::jsonb`,
      health_check: `'{"path":"/health"}'::jsonb`,
    },
    status: {},
    fixed: ['id', 'generation', 'created_at', 'updated_at'],
  },
  {
    table: agentDropletTools,
    name: 'agent_droplet_tools',
    spec: {
      instance_name: `instance_name || '-2'`,
      version: `'2.0.0'`,
      config_details: `'{"prefix":"x"}'::jsonb`,
      secret_refs: `'{"A":"b"}'::jsonb`,
      desired_state: `'stopped'`,
      allowed_tools: `'["echo"]'::jsonb`,
      denied_tools: `'["shout"]'::jsonb`,
      deletion_requested_at: 'now()',
    },
    status: {
      status: `'running'`,
      observed_generation: 'observed_generation + 1',
      conditions: `'[{"type":"Ready"}]'::jsonb`,
      endpoints: `'[{"port":1}]'::jsonb`,
      capabilities: `'{"tools":[]}'::jsonb`,
      last_error: `'boom'`,
      delivery: `'{"wireGeneration":1,"specGeneration":1,"fingerprint":"f"}'::jsonb`,
    },
    // tool_catalog_id is spec too, and tested on its own below (it needs a second catalog row).
    fixed: ['id', 'agent_droplet_id', 'tool_catalog_id', 'generation', 'created_at', 'updated_at'],
  },
];

async function generationOf(db: Db, table: string): Promise<number> {
  const list = rowsOf<{ generation: number | string }>(await db.execute(sql.raw(`select generation from ${table}`)));
  expect(list).toHaveLength(1);
  return Number(list[0]!.generation);
}

async function seed(db: Db): Promise<{ envId: string }> {
  const agent = await createAgent(db, { name: 'gen' });
  if (agent.kind !== 'ok') throw new Error('seed');
  const env = await createEnvironment(db, agent.value.id, { region: 'nyc3', size: 's-1vcpu-1gb' });
  const catalog = await createCatalogTool(db, {
    tool_name: 'echo',
    version_info: { versions: ['1.0.0'], default: '1.0.0' },
    packaging_type: 'npm_package',
    package_identifier: '@toolbelt/echo-mcp',
    transport: 'mcp-stdio',
  });
  if (env.kind !== 'ok' || catalog.kind !== 'ok') throw new Error('seed');
  const tool = await addToolInstance(db, env.value.id, { tool_catalog_id: catalog.value.id, instance_name: 'echo', version: '1.0.0' });
  if (tool.kind !== 'ok') throw new Error('seed');
  return { envId: env.value.id };
}

describeEachDatabase('generation triggers', (t) => {
  afterEach(() => truncateAll(t.db));

  it('classifies every column of every generation table', () => {
    for (const c of CASES) {
      const columns = Object.values(getTableColumns(c.table)).map((col) => col.name).sort();
      const classified = [...Object.keys(c.spec), ...Object.keys(c.status), ...c.fixed].sort();
      expect(classified, `${c.name}: every column is spec, status or fixed`).toEqual(columns);
    }
  });

  it('moves generation by one for each spec column and never for a status column', async () => {
    await seed(t.db);
    for (const c of CASES) {
      for (const [column, change] of Object.entries(c.spec)) {
        const before = await generationOf(t.db, c.name);
        await t.db.execute(sql.raw(`update ${c.name} set ${column} = ${change}`));
        expect(await generationOf(t.db, c.name), `${c.name}.${column} is spec`).toBe(before + 1);
      }
      for (const [column, change] of Object.entries(c.status)) {
        const before = await generationOf(t.db, c.name);
        await t.db.execute(sql.raw(`update ${c.name} set ${column} = ${change}, generation = 1000`));
        expect(await generationOf(t.db, c.name), `${c.name}.${column} is status`).toBe(before);
      }
    }
  });

  it('moves a tool instance generation when it points at another catalog tool', async () => {
    await seed(t.db);
    // generationOf expects one row per table: the tool_catalog case is over by now.
    await t.db.execute(
      sql`insert into tool_catalog (tool_name, version_info, packaging_type, package_identifier)
          values ('other', '{"versions":["1"],"default":"1"}'::jsonb, 'npm_package', 'other')`,
    );
    const before = await generationOf(t.db, 'agent_droplet_tools');
    await t.db.execute(sql`update agent_droplet_tools set tool_catalog_id = (select id from tool_catalog where tool_name = 'other')`);
    expect(await generationOf(t.db, 'agent_droplet_tools')).toBe(before + 1);
  });

  it('stamps updated_at on every update, spec or status', async () => {
    const { envId } = await seed(t.db);
    await t.db.execute(sql`update agent_droplets set updated_at = now() - interval '1 day' where id = ${envId}`);
    await t.db.execute(sql`update agent_droplets set status = 'active' where id = ${envId}`);
    const list = rowsOf<{ fresh: boolean }>(await t.db.execute(sql`select now() - updated_at < interval '1 hour' as fresh from agent_droplets`));
    expect(list[0]!.fresh).toBe(true);
  });
});

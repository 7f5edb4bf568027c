import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import {
  addToolInstance,
  createAgent,
  createCatalogTool,
  createEnvironment,
  getAgent,
  listAgents,
  listEvents,
  recordEvent,
  requestToolRemoval,
  SQLSTATE,
  sqlState,
  updateAgentSpec,
  updateEnvironmentSpec,
  updateEnvironmentStatus,
  updateToolSpec,
  updateToolStatus,
  deleteCatalogTool,
  isStillReferenced,
} from '../src/index.ts';
import { describeEachDatabase } from '../src/testing.ts';

const echoTool = {
  tool_name: 'echo',
  version_info: { versions: ['1.0.0'], default: '1.0.0' },
  packaging_type: 'npm_package' as const,
  package_identifier: '@toolbelt/echo-mcp',
  transport: 'mcp-stdio' as const,
};

function value<T>(result: { kind: string; value?: T }): T {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value as T;
}

async function expectSqlState(promise: Promise<unknown>, state: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the write should have been refused').toBeDefined();
  expect(sqlState(error)).toBe(state);
}

describeEachDatabase('store', (t) => {
  it('creates agents with the plan defaults and refuses a taken name', async () => {
    const agent = value(await createAgent(t.db, { name: 'alpha' }));
    expect(agent.tool_environment_active).toBe(false);
    expect(agent.generation).toBe(1);
    expect(await createAgent(t.db, { name: 'alpha' })).toMatchObject({ kind: 'conflict' });
    expect((await listAgents(t.db, { limit: 10 })).map((a) => a.name)).toEqual(['alpha']);
  });

  it('bumps generation on spec change and not on status change', async () => {
    const agent = value(await createAgent(t.db, { name: 'gen' }));
    const env = value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's-1vcpu-1gb' }));
    expect(env.generation).toBe(1);

    const afterStatus = value(
      await updateEnvironmentStatus(t.db, env.id, { status: 'provisioning', droplet_id: 42, observed_generation: 1 }),
    );
    expect(afterStatus.generation).toBe(1);
    const afterSpec = value(await updateEnvironmentSpec(t.db, env.id, { size: 's-2vcpu-2gb' }));
    expect(afterSpec.generation).toBe(2);
    expect(afterSpec.observed_generation).toBe(1);

    const toggled = value(await updateAgentSpec(t.db, agent.id, { tool_environment_active: true }));
    expect(toggled.generation).toBe(2);
    // A write of the same value is no spec change.
    const same = value(await updateAgentSpec(t.db, agent.id, { tool_environment_active: true }));
    expect(same.generation).toBe(2);
    // A status writer cannot move generation, even by naming it.
    await t.db.execute(sql`update agent_droplets set generation = 99, status = 'active' where id = ${env.id}`);
    const [row] = (await t.db.query.agentDroplets.findMany()).filter((e) => e.id === env.id);
    expect(row?.generation).toBe(2);
    expect(row?.status).toBe('active');
  });

  it('refuses a stale generation (optimistic concurrency)', async () => {
    const agent = value(await createAgent(t.db, { name: 'occ' }));
    value(await updateAgentSpec(t.db, agent.id, { description: 'first' }, 1));
    const stale = await updateAgentSpec(t.db, agent.id, { description: 'second' }, 1);
    expect(stale).toMatchObject({ kind: 'conflict' });
    expect((await getAgent(t.db, agent.id))?.description).toBe('first');
    expect(await updateAgentSpec(t.db, '00000000-0000-0000-0000-000000000000', { description: 'x' })).toEqual({
      kind: 'not_found',
    });
  });

  it('allows one environment per agent', async () => {
    const agent = value(await createAgent(t.db, { name: 'one-env' }));
    value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's-1vcpu-1gb' }));
    expect(await createEnvironment(t.db, agent.id, { region: 'ams3', size: 's-1vcpu-1gb' })).toMatchObject({
      kind: 'conflict',
    });
  });

  it('enforces foreign keys', async () => {
    const missing = '00000000-0000-0000-0000-000000000001';
    await expectSqlState(createEnvironment(t.db, missing, { region: 'nyc3', size: 's' }), SQLSTATE.foreignKeyViolation);
    const agent = value(await createAgent(t.db, { name: 'fk' }));
    const env = value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's' }));
    await expectSqlState(
      addToolInstance(t.db, env.id, { tool_catalog_id: missing, instance_name: 'x', version: '1' }),
      SQLSTATE.foreignKeyViolation,
    );
    // An agent with an environment cannot vanish under it: teardown goes through the lifecycle.
    const refused = await t.db.execute(sql`delete from agents where id = ${agent.id}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStillReferenced(refused)).toBe(true);
    const tool = value(await createCatalogTool(t.db, { ...echoTool, tool_name: 'echo-fk' }));
    value(await addToolInstance(t.db, env.id, { tool_catalog_id: tool.id, instance_name: 'echo', version: '1.0.0' }));
    expect(await deleteCatalogTool(t.db, tool.id)).toMatchObject({ kind: 'in_use' });
  });

  it('accepts only known status values', async () => {
    const agent = value(await createAgent(t.db, { name: 'statuses' }));
    const env = value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's' }));
    for (const status of ['pending', 'active', 'error', 'deleted'] as const) {
      value(await updateEnvironmentStatus(t.db, env.id, { status }));
    }
    await expectSqlState(
      t.db.execute(sql`update agent_droplets set status = 'exploded' where id = ${env.id}`),
      SQLSTATE.checkViolation,
    );
    await expectSqlState(
      createCatalogTool(t.db, { ...echoTool, tool_name: 'bad', packaging_type: 'script' as never }),
      SQLSTATE.checkViolation,
    );
  });

  it('keeps tool instance spec and status apart', async () => {
    const agent = value(await createAgent(t.db, { name: 'tools' }));
    const env = value(await createEnvironment(t.db, agent.id, { region: 'nyc3', size: 's' }));
    const tool = value(await createCatalogTool(t.db, { ...echoTool, tool_name: 'echo-spec' }));
    const instance = value(
      await addToolInstance(t.db, env.id, {
        tool_catalog_id: tool.id,
        instance_name: 'echo',
        version: '1.0.0',
        config_details: { port: 8000 },
      }),
    );
    expect(instance).toMatchObject({ status: 'pending', desired_state: 'running', generation: 1 });
    expect(
      await addToolInstance(t.db, env.id, { tool_catalog_id: tool.id, instance_name: 'echo', version: '1.0.0' }),
    ).toMatchObject({ kind: 'conflict' });
    const running = value(await updateToolStatus(t.db, instance.id, { status: 'running', observed_generation: 1 }));
    expect(running.generation).toBe(1);
    const stopped = value(await updateToolSpec(t.db, instance.id, { desired_state: 'stopped' }, 1));
    expect(stopped.generation).toBe(2);
    const removing = value(await requestToolRemoval(t.db, instance.id));
    expect(removing.deletion_requested_at).toBeInstanceOf(Date);
    expect(removing.generation).toBe(3);
  });

  it('folds repeated events into one row', async () => {
    const object = { kind: 'Environment', id: 'e1' };
    const first = await recordEvent(t.db, { type: 'Warning', reason: 'QuotaExceeded', message: 'limit 10', object });
    const again = await recordEvent(t.db, { type: 'Warning', reason: 'QuotaExceeded', message: 'limit 10', object });
    await recordEvent(t.db, { type: 'Normal', reason: 'Created', message: 'droplet 1', object });
    expect(again.id).toBe(first.id);
    expect(again.count).toBe(2);
    const listed = await listEvents(t.db, { objectKind: 'Environment', objectId: 'e1', limit: 10 });
    expect(listed).toHaveLength(2);
    expect(await listEvents(t.db, { objectId: 'other', limit: 10 })).toHaveLength(0);
  });
});

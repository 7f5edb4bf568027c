/**
 * Stopping an environment's tools before its droplet is deleted (the lifecycle's
 * `beforeDelete`): a stop for each tool the agent reports alive, a bounded wait for the
 * answers, and nothing left behind on the caller's abort signal however long it waited.
 */
import { getEventListeners } from 'node:events';
import { stopEnvironmentTools } from '@toolbelt/reconcilers';
import { listCommands, recordAgentConnected, upsertToolObservation } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { expect, it } from 'vitest';
import { enrolledEnvironment, makeTool } from '../support/rows.ts';
import { toolReport } from '../support/test-agent.ts';

describeEachDatabase('stopping tools before a droplet goes', (t) => {
  it('asks each live tool to stop, gives up at the deadline, and leaves no listener on the signal', async () => {
    const { env, credentialId } = await enrolledEnvironment(t.db);
    const live = await makeTool(t.db, env.id);
    const idle = await makeTool(t.db, env.id);
    await recordAgentConnected(t.db, { environmentId: env.id, replicaId: 'r1', connectionId: 'c1', credentialId, at: new Date() });
    await upsertToolObservation(t.db, env.id, toolReport(live.id, 'running'), new Date());
    await upsertToolObservation(t.db, env.id, toolReport(idle.id, 'stopped'), new Date());
    const signal = new AbortController().signal;

    // Nobody answers: the wait polls until its bound, many times over.
    const result = await stopEnvironmentTools(t.db, env.id, { stopTimeoutMs: 1_000, waitMs: 300, pollMs: 5, signal });

    expect(result).toEqual({ asked: 1, stopped: 0 });
    const commands = await listCommands(t.db, { environmentId: env.id, limit: 10 });
    expect(commands.map((c) => [c.command_type, c.tool_instance_id])).toEqual([['stop', live.id]]);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

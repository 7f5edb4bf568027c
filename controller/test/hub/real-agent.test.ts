/**
 * Real droplet agent processes against the real hub over loopback: enrollment, heartbeats,
 * commands that install and start a real tool whose secret travels over the socket, logs,
 * and a controller restart after which the agent comes back with its inventory.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  authenticateAgentCredential,
  getAgentSession,
  getEnvironment,
  issueEnrollmentToken,
  listToolObservations,
  redeemEnrollmentToken,
} from '@toolbelt/schema';
import { describeEachDatabase, describeIf } from '@toolbelt/schema/testing';
import { afterAll, expect, it } from 'vitest';
import { agentAvailable, fingerprintPackage, removeTempDirs, startAgentProcess } from './agent-process.ts';
import { commandOutcome } from '../support/commands.ts';
import { onPostgres } from '../support/databases.ts';
import { freePort } from '../support/ports.ts';
import { startTestHub } from '../support/hub.ts';
import { makeEnvironment, makeTool } from '../support/rows.ts';
import { startControllerProcess } from '../support/controller-process.ts';

afterAll(() => removeTempDirs());

const SECRET = 'real-agent-secret-value';

const fingerprint = createHash('sha256').update(SECRET).digest('hex').slice(0, 16);

describeIf(agentAvailable, 'the droplet agent (droplet-agent/src/main.ts) is not in this checkout')('real agents', () => {
  describeEachDatabase('a real droplet agent and the hub', (t) => {
    it(
      'enrolls, heartbeats, runs a tool with a secret over the socket, and comes back after a restart',
      async () => {
        const env = await makeEnvironment(t.db);
        const tool = await makeTool(t.db, env.id);
        const asked: string[] = [];
        const secrets = async (environmentId: string, toolInstanceId: string, names: readonly string[]) => {
          asked.push(`${environmentId}/${toolInstanceId}/${names.join(',')}`);
          return { API_TOKEN: SECRET };
        };
        const first = await startTestHub(t.database, { secrets, heartbeatFlushMs: 200 });
        const { token } = await issueEnrollmentToken(t.db, env.id);
        const agent = startAgentProcess(first.url, token);

        await expect.poll(() => first.hub.isConnected(env.id), { timeout: 20_000 }).toBe(true);
        // The credential is on disk, 0600, and the enrollment token is spent.
        await expect.poll(() => statSync(join(agent.stateDir, 'credential.json'), { throwIfNoEntry: false })?.mode, { timeout: 10_000 }).toBeDefined();
        expect(statSync(join(agent.stateDir, 'credential.json')).mode & 0o777).toBe(0o600);
        expect(await redeemEnrollmentToken(t.db, token)).toEqual({ kind: 'refused', reason: 'used' });
        // Heartbeats (every second here) carry metrics; the hub writes them in batches.
        await expect.poll(async () => (await getEnvironment(t.db, env.id))?.host_metrics?.memoryTotalBytes, { timeout: 10_000 }).toBeGreaterThan(0);
        const row = await getEnvironment(t.db, env.id);
        expect(row?.agent_version).toMatch(/^\d+\.\d+\.\d+/);
        expect(row?.last_heartbeat_at).toBeInstanceOf(Date);

        const spec = {
          instanceName: 'fp',
          packagingType: 'npm_package' as const,
          packageIdentifier: 'fp-tool',
          version: `file:${fingerprintPackage()}`,
          transport: 'none' as const,
          secretEnv: ['API_TOKEN'],
        };
        const command = (commandType: string, extra: { payload?: Record<string, unknown>; timeoutMs?: number } = {}) =>
          commandOutcome(t.db, { environmentId: env.id, commandType, toolInstanceId: tool.id, generation: 1, ...extra }, extra.timeoutMs);
        const installed = await command('install', { payload: { tool: spec }, timeoutMs: 120_000 });
        expect(installed).toMatchObject({ status: 'done' });
        const started = await command('start', { timeoutMs: 60_000 });
        expect(started).toMatchObject({ status: 'done' });
        expect(asked).toEqual([`${env.id}/${tool.id}/API_TOKEN`]);
        await expect.poll(async () => (await listToolObservations(t.db, env.id)).find((o) => o.tool_instance_id === tool.id)?.report.state, { timeout: 20_000 }).toBe('running');

        const logs = await expect.poll(async () => {
          const answer = await command('get_logs', { payload: { tail: 50 } });
          return ((answer.result?.logs ?? []) as { text: string }[]).map((l) => l.text).join('\n');
        }, { timeout: 20_000 }).toContain(`fingerprint ${fingerprint}`);
        void logs;

        // Restart the controller's hub on the same port: the agent reconnects with its credential.
        const before = await getAgentSession(t.db, env.id);
        await first.stop();
        const second = await startTestHub(t.database, { port: first.port, secrets });
        await expect.poll(() => second.hub.isConnected(env.id), { timeout: 20_000 }).toBe(true);
        const after = await getAgentSession(t.db, env.id);
        expect(after?.connection_id).not.toBe(before?.connection_id);
        expect(after?.hello_at).toBeInstanceOf(Date);
        const observed = await listToolObservations(t.db, env.id);
        expect(observed.map((o) => [o.tool_instance_id, o.report.state])).toEqual([[tool.id, 'running']]);
        expect(agent.log.join('\n')).not.toContain(SECRET);

        const removed = await command('uninstall', { timeoutMs: 60_000 });
        expect(removed.status).toBe('done');
        expect(await agent.kill('SIGTERM')).toBe(0);
        // The agent held a confirmed credential of its own; the hub handed it over once.
        const sessions = await getAgentSession(t.db, env.id);
        expect(sessions?.credential_id).toBeTruthy();
        await second.stop();
      },
      240_000,
    );

    it('two agents never share a credential and each is held to its own droplet', async () => {
      const server = await startTestHub(t.database);
      const envs = [await makeEnvironment(t.db), await makeEnvironment(t.db)];
      const agents = [];
      for (const env of envs) agents.push(startAgentProcess(server.url, (await issueEnrollmentToken(t.db, env.id)).token));
      for (const env of envs) await expect.poll(() => server.hub.isConnected(env.id), { timeout: 20_000 }).toBe(true);
      const stored = await Promise.all(agents.map(async (a) => {
        const { readFile } = await import('node:fs/promises');
        await expect.poll(() => statSync(join(a.stateDir, 'credential.json'), { throwIfNoEntry: false }), { timeout: 10_000 }).toBeDefined();
        return JSON.parse(await readFile(join(a.stateDir, 'credential.json'), 'utf8')) as { credential: string };
      }));
      expect(stored[0]!.credential).not.toBe(stored[1]!.credential);
      const owners = await Promise.all(stored.map(async (s) => {
        const auth = await authenticateAgentCredential(t.db, s.credential);
        return auth.kind === 'ok' ? auth.value.environmentId : undefined;
      }));
      expect(owners).toEqual(envs.map((e) => e.id));
      for (const a of agents) expect(await a.kill('SIGTERM')).toBe(0);
      await server.stop();
    }, 60_000);
  });

  describeEachDatabase('a real droplet agent and a controller process', (t) => {
    const onPg = onPostgres(t, "reads the controller process's database while it runs; a PGlite data dir belongs to one process");
    onPg('restart the controller process: every agent reconnects and commands issued through the store still arrive', async () => {
      const port = await freePort();
      const args = ['--port', String(port)];
      const first = startControllerProcess(args, { DATABASE_URL: t.url });
      await first.ready;
      const envs = [await makeEnvironment(t.db), await makeEnvironment(t.db), await makeEnvironment(t.db)];
      const url = `ws://127.0.0.1:${port}/agent/v1`;
      const agents = [];
      for (const env of envs) agents.push(startAgentProcess(url, (await issueEnrollmentToken(t.db, env.id)).token));
      const sessions = () => Promise.all(envs.map((e) => getAgentSession(t.db, e.id)));
      await expect.poll(async () => (await sessions()).every((s) => s?.hello_at && !s.disconnected_at), { timeout: 30_000 }).toBe(true);
      const before = (await sessions()).map((s) => s!.connection_id);

      const stop = async (env: string) => {
        // What a reconciler does: write the command; the replica holding the socket sends it.
        expect((await commandOutcome(t.db, { environmentId: env, commandType: 'stop', toolInstanceId: 'no-such-tool', generation: 1 }, 20_000)).status).toBe('done');
      };
      await stop(envs[0]!.id);

      expect(await first.stop('SIGTERM')).toBe(0);
      const second = startControllerProcess(args, { DATABASE_URL: t.url });
      await second.ready;
      await expect.poll(async () => (await sessions()).every((s, i) => s?.hello_at && !s.disconnected_at && s.connection_id !== before[i]), { timeout: 30_000 }).toBe(true);
      for (const env of envs) await stop(env.id);

      for (const agent of agents) expect(await agent.kill('SIGTERM')).toBe(0);
      expect(await second.stop('SIGTERM')).toBe(0);
    }, 120_000);
  });
});

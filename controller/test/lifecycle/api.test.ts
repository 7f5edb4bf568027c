/**
 * The whole path as an operator drives it: the controller with its embedded simulator (no
 * DigitalOcean token: the quick start), the API's environment switch, the loop, the
 * lifecycle — and the events API saying why each droplet was created and deleted.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { afterEach, expect, it } from 'vitest';
import pino from 'pino';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, serveDatabase } from '../../src/controller.ts';
import { eventually } from '../support/eventually.ts';

describeEachDatabase('lifecycle through the API (embedded simulator)', (t) => {
  let running: RunningController | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await truncateAll(t.db);
  });

  it('switching an environment on makes a droplet, off deletes it, and the events say why', async () => {
    const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
    const config = parseConfig(['--port', '0'], {
      TOOLBELT_ADMIN_TOKEN: adminToken,
      TOOLBELT_SIMULATOR_BOOT_MS: '300',
      TOOLBELT_SWEEP_FAST_MS: '200',
      TOOLBELT_SWEEP_STEADY_MS: '2000',
      TOOLBELT_CREATE_BATCH_WINDOW_MS: '20',
    });
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    running = await serveDatabase(t.database, { config, logger: pino({ level: 'silent' }), options: { stderr: quiet }, ownsDatabase: false });
    const sim = running.lifecycle!.simulator!;
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2$/);
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${running!.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> };
    };
    const created = await api('POST', '/v1/agents', { name: 'through-the-api' });
    expect(created.status).toBe(201);
    const agentId = created.body.id as string;

    expect((await api('PUT', `/v1/agents/${agentId}/environment`, { active: true })).status).toBe(200);
    await eventually(
      async () => (await api('GET', `/v1/agents/${agentId}/environment`)).body.status === 'active',
      async () => JSON.stringify((await api('GET', `/v1/agents/${agentId}/environment`)).body),
    );
    expect(sim.state.listDroplets()).toHaveLength(1);

    // What ops scrape: DigitalOcean calls and budget, agents connected, tools by state.
    const metrics = await (await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    expect(metrics).toMatch(/toolbelt_digitalocean_requests_total\{endpoint="POST [^"]*droplets",outcome="[^"]+"\} [1-9]/);
    expect(metrics).toMatch(/toolbelt_digitalocean_budget_remaining\{window="hour"\} [1-9]\d*/);
    // Active means its local droplet's agent has said hello (TOOLBELT_AGENT_REQUIRED, on by default).
    expect(metrics).toMatch(/toolbelt_agents_connected 1\n/);
    expect(metrics).toMatch(/# TYPE toolbelt_tools gauge/);
    expect(metrics).toMatch(/toolbelt_environments\{status="active"\} 1\n/);
    expect(metrics).toMatch(/toolbelt_reconcile_total\{/);

    expect((await api('PUT', `/v1/agents/${agentId}/environment`, { active: false })).status).toBe(200);
    await eventually(
      async () => (await api('GET', `/v1/agents/${agentId}/environment`)).body.status === 'deleted',
      async () => JSON.stringify((await api('GET', `/v1/agents/${agentId}/environment`)).body),
    );
    expect(sim.state.listDroplets()).toEqual([]);

    const events = await api('GET', `/v1/events?object=environment/${agentId}&limit=50`);
    const list = events.body.items as { reason: string; message: string }[];
    const reasons = list.map((e) => e.reason).reverse();
    expect(reasons).toEqual(['Creating', 'DropletCreated', 'Ready', 'Deleting', 'DropletDeleted']);
    expect(list.find((e) => e.reason === 'Deleting')!.message).toMatch(/the environment was disabled/);
  });
});

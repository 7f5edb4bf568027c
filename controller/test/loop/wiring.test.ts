import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifySpecChange, tryAcquireLease } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, startController } from '../../src/controller.ts';
import { captureLogger, deferred, scripted } from '../support/loop.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-loop-wiring-'));
let running: RunningController | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('controller with the loop', (t) => {
  it('leads on its own, resyncs its reconcilers, follows spec changes from the API, and hands the lease back on stop', async () => {
    const target = t.kind === 'postgres' ? ['--database-url', t.url!] : ['--data-dir', join(scratch, 'data')];
    const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
    // A master key of its own: on Postgres the controller refuses to start without one.
    const masterKey = randomBytes(32).toString('base64');
    const config = parseConfig(['--port', '0', '--replica-id', `wiring-${t.kind}`, ...target], { TOOLBELT_ADMIN_TOKEN: adminToken, TOOLBELT_MASTER_KEY: masterKey });
    const seen = new Set<string>();
    const listed = deferred();
    const reconciled = new Map<string, () => void>();
    const reconciler = scripted(
      'environment',
      async (_ctx, key) => {
        seen.add(key);
        if (seen.has('a') && seen.has('b')) listed.resolve();
        reconciled.get(key)?.();
      },
      async () => ['a', 'b'],
    );
    const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
    // Its own `environment` reconciler stands in for the lifecycle's.
    running = await startController(config, captureLogger().logger, { reconcilers: [reconciler], stderr: quiet, lifecycle: false });
    expect(running.loop!.elector.isLeader).toBe(true);
    expect(running.loop!.elector.identity).toBe(`wiring-${t.kind}`);
    await listed.promise;

    // A spec change through Postgres…
    const noticed = deferred();
    reconciled.set('c', noticed.resolve);
    await notifySpecChange(running.database.db, { kind: 'environment', key: 'c' });
    await noticed.promise;

    // …and one made through the API: it announces the new agent's environment key.
    const created = await fetch(`${running.url}/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `wired-${t.kind}` }),
    });
    expect(created.status).toBe(201);
    const agentId = ((await created.json()) as { id: string }).id;
    await new Promise<void>((resolve) => (seen.has(agentId) ? resolve() : reconciled.set(agentId, resolve)));

    const metrics = await (await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    expect(metrics).toContain('toolbelt_leader{lease="controller"} 1');
    expect(metrics).toMatch(/toolbelt_workqueue_adds_total\{kind="environment",source="spec"\} [1-9]/);

    await running.stop();
    running = undefined;
    if (t.kind === 'postgres') {
      // Released on stop: another replica takes it at once.
      expect(await tryAcquireLease(t.db, { name: 'controller', holder: 'next', ttlMs: 10_000 })).toMatchObject({
        kind: 'acquired',
      });
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifySpecChange, tryAcquireLease } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { type RunningController, startController } from '../../src/controller.ts';
import { captureLogger, deferred, scripted } from './helpers.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-loop-wiring-'));
let running: RunningController | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describeEachDatabase('controller with the loop', (t) => {
  it('leads on its own, resyncs its reconcilers, follows spec changes, and hands the lease back on stop', async () => {
    const target = t.kind === 'postgres' ? ['--database-url', t.url!] : ['--data-dir', join(scratch, 'data')];
    const config = parseConfig(['--port', '0', '--replica-id', `wiring-${t.kind}`, ...target], {});
    const seen = new Set<string>();
    const listed = deferred();
    const changed = deferred();
    const reconciler = scripted(
      'thing',
      async (_ctx, key) => {
        seen.add(key);
        if (seen.has('a') && seen.has('b')) listed.resolve();
        if (key === 'c') changed.resolve();
      },
      async () => ['a', 'b'],
    );
    running = await startController(config, captureLogger().logger, { reconcilers: [reconciler] });
    expect(running.loop.elector.isLeader).toBe(true);
    expect(running.loop.elector.identity).toBe(`wiring-${t.kind}`);
    await listed.promise;

    await notifySpecChange(running.database.db, { kind: 'thing', key: 'c' });
    await changed.promise;
    expect(await running.registry.metrics()).toContain('toolbelt_leader{lease="controller"} 1');

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

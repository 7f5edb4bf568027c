import { createManualClock, type Database, notifySpecChange, SPEC_CHANNEL } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LoopRunner } from '../../src/loop/runner.ts';
import { SpecChangeSource } from '../../src/sources/spec-changes.ts';
import { onPostgres, openPool } from '../support/databases.ts';
import { captureLogger, type CapturedLogger, deferred, flush, Outcomes, scripted } from '../support/loop.ts';

let log: CapturedLogger;
let outcomes: Outcomes;
let cleanup: (() => Promise<void>)[];

beforeEach(() => {
  log = captureLogger();
  outcomes = new Outcomes();
  cleanup = [];
});
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
});

describeEachDatabase('spec-change source', (t) => {
  async function startLoop(database: Database) {
    const runner = new LoopRunner({
      db: database.db,
      logger: log.logger,
      clock: createManualClock(),
      registry: new Registry(),
      onOutcome: outcomes.push,
      reconcilers: [scripted('environment', async () => {})],
    });
    const source = new SpecChangeSource({ database, sink: runner, logger: log.logger });
    await source.start();
    await runner.start(new AbortController().signal);
    cleanup.push(
      () => runner.stop(),
      () => source.stop(),
    );
    return { runner, source };
  }

  it('enqueues the key of a committed spec change; ignores unknown kinds and malformed payloads', async () => {
    await startLoop(t.database);
    await t.db.execute(sql`select pg_notify(${SPEC_CHANNEL}, 'not a change')`);
    await notifySpecChange(t.db, { kind: 'firewall', key: 'f1' });
    await t.db.transaction((tx) => notifySpecChange(tx, { kind: 'environment', key: 'env-1' }));
    await outcomes.count(1);
    expect(outcomes.reports.map((r) => [r.kind, r.key, r.outcome])).toEqual([['environment', 'env-1', 'success']]);
    expect(log.lines.some((l) => l.msg === 'ignored a spec-change notification that is not kind:key')).toBe(true);
    expect(log.errors()).toEqual([]);
  });

  it('stops enqueueing once stopped', async () => {
    const { source } = await startLoop(t.database);
    await source.stop();
    // A marker that is heard proves notifications still flow; the stopped source took none.
    const heard = deferred();
    const unlisten = await t.database.listen(SPEC_CHANNEL, (payload) => payload === 'environment:marker' && heard.resolve());
    cleanup.push(unlisten);
    await notifySpecChange(t.db, { kind: 'environment', key: 'after-stop' });
    await notifySpecChange(t.db, { kind: 'environment', key: 'marker' });
    await heard.promise;
    await flush();
    expect(outcomes.reports).toEqual([]);
  });

  const onPg = onPostgres(t, 'another replica needs a second database session');

  onPg('carries a spec change written on another replica to the leader', async () => {
    await startLoop(t.database);
    const writer = await openPool({ url: t.url!, maxConnections: 1 });
    cleanup.push(() => writer.close());
    await writer.db.transaction((tx) => notifySpecChange(tx, { kind: 'environment', key: 'from-elsewhere' }));
    await outcomes.count(1);
    expect(outcomes.reports[0]).toMatchObject({ kind: 'environment', key: 'from-elsewhere', outcome: 'success' });
  });
});

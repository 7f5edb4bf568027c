import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, migrate, openDatabase, rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { startControllerProcess } from './support/controller-process.ts';
import { onPostgres } from './support/databases.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-controller-'));
let dirs = 0;
const freshDir = () => join(scratch, `data-${(dirs += 1)}`);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const messages = (lines: Record<string, unknown>[]) => lines.map((l) => String(l.msg ?? l.raw)).join('\n');

describeEachDatabase('controller process', (t) => {
  const target = () => (t.kind === 'postgres' ? { args: [], env: { DATABASE_URL: t.url } } : { args: ['--data-dir', freshDir()], env: {} });

  it('starts, says which database it uses, answers /readyz and stops on SIGTERM', async () => {
    const { args, env } = target();
    const controller = startControllerProcess(['--port', '0', ...args], env);
    const url = await controller.ready;
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, migrations: 'applied' });
    if (t.kind === 'pglite') expect(messages(controller.lines)).toMatch(/using embedded PGlite/);
    expect(await controller.stop('SIGTERM')).toBe(0);
    expect(messages(controller.lines)).toMatch(/stopped/);
  });

  it('refuses a database whose schema is newer than the code, and writes nothing', async () => {
    const { args, env } = target();
    const dataDir = args[1];
    const database = t.kind === 'postgres' ? t.database : await openDatabase({ dataDir });
    await migrate(database.db);
    await database.db.execute(sql`insert into toolbelt_migrations (id, tag, hash) values (999, '0999_future', 'x')`);
    if (t.kind === 'pglite') await database.close();

    const controller = startControllerProcess(['--port', '0', ...args], env);
    expect(await controller.exited).toBe(1);
    expect(messages(controller.lines)).toMatch(/at migration 0999_future, newer than this toolbelt knows/);

    const after = t.kind === 'postgres' ? t.database : await openDatabase({ dataDir });
    const rows = rowsOf<{ n: number }>(await after.db.execute(sql`select count(*)::int as n from toolbelt_migrations`));
    expect(rows[0]?.n).toBe(loadMigrations().length + 1);
    await after.db.execute(sql`delete from toolbelt_migrations where id = 999`);
    if (t.kind === 'pglite') await after.close();
  });
});

describeEachDatabase('controller process on Postgres without a master key', (t) => {
  const onPg = onPostgres(t, 'PGlite belongs to one process, which keeps a generated key in its data directory');
  const noKey = () => ({ DATABASE_URL: t.url, TOOLBELT_MASTER_KEY: '', TOOLBELT_MASTER_KEY_FILE: '' });

  onPg('server and rotate-key refuse (exit 2, naming the settings) and write no key; migrate needs none; with a key it starts', async () => {
    const dataDir = freshDir();
    const keyFile = join(dataDir, 'master-key');
    for (const command of ['server', 'rotate-key']) {
      const refused = startControllerProcess([command, '--port', '0', '--data-dir', dataDir], noKey());
      expect(await refused.exited, command).toBe(2);
      expect(messages(refused.lines)).toMatch(/DATABASE_URL is set but no secrets master key is/);
      expect(messages(refused.lines)).toMatch(/TOOLBELT_MASTER_KEY \(--master-key\) or TOOLBELT_MASTER_KEY_FILE \(--master-key-file\)/);
    }
    expect(existsSync(dataDir), 'the refused commands wrote into the data directory').toBe(false);

    const migrated = startControllerProcess(['migrate'], noKey());
    expect(await migrated.exited).toBe(0);

    const keyed = startControllerProcess(['--port', '0', '--data-dir', dataDir], { DATABASE_URL: t.url });
    await keyed.ready;
    expect(await keyed.stop('SIGTERM')).toBe(0);
    expect(existsSync(keyFile), 'a key file was generated').toBe(false);
  });
});

describe('controller process with bad input', () => {
  it.each([
    ['not a url', /DATABASE_URL is not a URL/],
    ['mysql://root@127.0.0.1/db', /scheme "mysql:"/],
    ['postgres://postgres@127.0.0.1:1/none', /cannot connect to Postgres at postgres:\/\/127\.0\.0\.1:1\/none/],
  ])('DATABASE_URL=%s → a clear error, exit 1, nothing written', async (url, message) => {
    const dataDir = freshDir();
    const controller = startControllerProcess(['--port', '0', '--data-dir', dataDir], { DATABASE_URL: url });
    expect(await controller.exited).toBe(1);
    expect(messages(controller.lines)).toMatch(message);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('a bad flag → usage error, exit 2', async () => {
    const controller = startControllerProcess(['--port', 'x']);
    expect(await controller.exited).toBe(2);
    expect(messages(controller.lines)).toMatch(/PORT \(--port\) = "x"/);
  });

  it('migrate applies the migrations once, then finds the schema up to date', async () => {
    const dataDir = freshDir();
    const first = startControllerProcess(['migrate', '--data-dir', dataDir]);
    expect(await first.exited).toBe(0);
    expect(messages(first.lines)).toMatch(new RegExp(`applied ${loadMigrations().length} migration`));
    const second = startControllerProcess(['migrate', '--data-dir', dataDir]);
    expect(await second.exited).toBe(0);
    expect(messages(second.lines)).toMatch(/up to date/);
  });

  it('a second process on the same data directory is refused', async () => {
    const dataDir = freshDir();
    const first = startControllerProcess(['--port', '0', '--data-dir', dataDir]);
    await first.ready;
    const second = startControllerProcess(['--port', '0', '--data-dir', dataDir]);
    expect(await second.exited).toBe(1);
    expect(messages(second.lines)).toMatch(/in use by process/);
    expect(await first.stop()).toBe(0);
  });
});

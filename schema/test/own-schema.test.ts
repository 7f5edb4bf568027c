/**
 * toolbelt lives in its own Postgres schema: it shares a database with another application's
 * `public.agents` without touching it, and a database migrated before the schema existed is
 * moved into it with its data.
 */
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, expect, it } from 'vitest';
import {
  createAgent,
  createEnvironment,
  type Database,
  type DatabaseKind,
  type Db,
  getAgent,
  isMigrated,
  listEvents,
  loadMigrations,
  migrate,
  openDatabase,
  recordEvent,
  rowsOf,
  updateAgentSpec,
} from '../src/index.ts';
import { DATABASE_KINDS, describeIf } from '../src/testing.ts';

/** A fresh, empty database; `open(schema)` gives a connection whose search_path is `schema`. */
interface FreshDatabase {
  open(schema: string): Promise<Database>;
  close(): Promise<void>;
}

async function freshDatabase(kind: DatabaseKind): Promise<FreshDatabase> {
  if (kind === 'pglite') {
    // One PGlite instance is one session: switching search_path is how it "reconnects".
    const database = await openDatabase({ dataDir: 'memory://', schema: 'public' });
    return {
      async open(schema) {
        await database.db.execute(sql.raw(`set search_path to ${schema}`));
        return { ...database, schema, close: async () => {} };
      },
      close: () => database.close(),
    };
  }
  const adminUrl = process.env.TEST_DATABASE_URL!;
  const name = `toolbelt_own_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const opened: Database[] = [];
  return {
    async open(schema) {
      const database = await openDatabase({ url: url.toString(), schema, maxConnections: 2 });
      opened.push(database);
      return database;
    },
    async close() {
      await Promise.all(opened.map((d) => d.close()));
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Every object in `public` (relations, functions, types) and every row of its tables. */
async function publicContents(db: Db): Promise<unknown> {
  const objects = rowsOf<{ kind: string; name: string }>(
    await db.execute(sql`
      select 'rel:' || c.relkind::text as kind, c.relname as name from pg_class c
        join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
      union all select 'proc', p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
      union all select 'type', t.typname from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = 'public' and t.typtype <> 'c' and t.typelem = 0
      union all select 'trigger', tg.tgname from pg_trigger tg join pg_class c on c.oid = tg.tgrelid
        join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
      order by 1, 2`),
  );
  const tables = objects.filter((o) => o.kind === 'rel:r').map((o) => o.name);
  const rows: Record<string, unknown> = {};
  for (const table of tables) rows[table] = rowsOf(await db.execute(sql.raw(`select * from public.${table} order by 1`)));
  return { objects, rows };
}

function value<T>(result: { kind: string; value?: T }): T {
  if (result.kind !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.value as T;
}

/** Exercises toolbelt's tables, generation triggers and sequences through its own queries. */
async function useToolbelt(db: Db, name: string): Promise<void> {
  const agent = value(await createAgent(db, { name }));
  expect(value(await updateAgentSpec(db, agent.id, { description: 'changed' })).generation).toBe(agent.generation + 1);
  const env = value(await createEnvironment(db, agent.id, { region: 'nyc3', size: 's-1vcpu-1gb' }));
  await recordEvent(db, { type: 'Normal', reason: 'Tested', message: name, object: { kind: 'environment', id: env.id } });
  expect((await listEvents(db, { objectKind: 'environment', objectId: env.id, limit: 10 })).map((e) => e.message)).toEqual([name]);
}

for (const kind of DATABASE_KINDS) {
  const available = kind === 'pglite' || Boolean(process.env.TEST_DATABASE_URL);
  describeIf(available, `own schema [postgres]: TEST_DATABASE_URL is not set`)(`own schema [${kind}]`, () => {
    let fresh: FreshDatabase | undefined;
    afterEach(async () => {
      await fresh?.close();
      fresh = undefined;
    });

    it("shares a database with another application's public.agents and leaves all of it untouched", async () => {
      fresh = await freshDatabase(kind);
      const other = await fresh.open('public');
      const statements = `
        create type public.plan as enum ('free', 'pro');
        create table public.agents (id uuid primary key, handle text not null, plan public.plan not null, owner_id int);
        create table public.profiles (id serial primary key, email text unique);
        create function public.toolbelt_bump_generation() returns int language sql as 'select 41 + 1';
        insert into public.agents values ('6b0b5d4c-3a0e-4a57-9f5e-2f3b1c1d0a11', 'helper', 'pro', 7),
          ('0f6e7c1a-9b1d-4c1e-8a3e-5d4c3b2a1f00', 'writer', 'free', null);
        insert into public.profiles (email) values ('a@example.com'), ('b@example.com')`;
      for (const statement of statements.split(';')) await other.db.execute(sql.raw(statement));
      const before = await publicContents(other.db);

      const own = await fresh.open('toolbelt');
      const result = await migrate(own.db);
      expect(result.applied).toEqual(loadMigrations().map((m) => m.tag));
      expect(await isMigrated(own.db)).toBe(true);
      await useToolbelt(own.db, 'shared-1');
      expect(await migrate(own.db)).toMatchObject({ applied: [] });

      const after = await fresh.open('public');
      expect(await publicContents(after.db)).toEqual(before);
      const ours = rowsOf<{ n: number }>(
        await own.db.execute(sql`select count(*)::int as n from pg_tables where schemaname = 'toolbelt'`),
      );
      expect(ours[0]?.n).toBeGreaterThanOrEqual(13);
    }, 180_000);

    it('moves a database migrated before the schema existed into it, with its data', async () => {
      fresh = await freshDatabase(kind);
      const legacy = await fresh.open('public');
      const before = loadMigrations().filter((m) => m.tag < '0007');
      expect(before.at(-1)?.tag).toBe('0006_spec_columns_triggers');
      await migrate(legacy.db, before);
      // Written as that version wrote them (today's queries know later columns).
      const [agent] = rowsOf<{ id: string; generation: number }>(
        await legacy.db.execute(sql`insert into agents (name) values ('old-timer') returning id, generation::int as generation`),
      );
      const [env] = rowsOf<{ id: string }>(
        await legacy.db.execute(sql`insert into agent_droplets (agent_id, region, size) values (${agent!.id}, 'nyc3', 's-1vcpu-1gb') returning id`),
      );
      const [old] = rowsOf<{ id: number }>(
        await legacy.db.execute(sql`insert into events (type, reason, message, object_kind, object_id, fingerprint)
          values ('Normal', 'Old', 'before the move', 'environment', ${env!.id}, 'f0') returning id::int as id`),
      );

      const own = await fresh.open('toolbelt');
      expect((await migrate(own.db)).applied).toEqual(loadMigrations().slice(before.length).map((m) => m.tag));
      const left = rowsOf<{ name: string }>(
        await own.db.execute(sql`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'public' union all select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public'`),
      );
      expect(left).toEqual([]);
      const moved = await getAgent(own.db, agent!.id);
      expect(moved).toMatchObject({ name: 'old-timer', generation: agent!.generation });
      expect(value(await updateAgentSpec(own.db, agent!.id, { description: 'moved' })).generation).toBe(agent!.generation + 1);
      const next = await recordEvent(own.db, {
        type: 'Normal',
        reason: 'New',
        message: 'after the move',
        object: { kind: 'environment', id: env!.id },
      });
      expect(next.id).toBeGreaterThan(old!.id);
      await useToolbelt(own.db, 'moved-1');
    }, 180_000);
  });
}

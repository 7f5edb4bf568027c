import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent, getSecretRow, rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { createSecretStore, hasVault, keyringFrom, loadKeyring, rotateMasterKey } from '../../src/secrets/index.ts';

const newKey = () => randomBytes(32).toString('base64');
const VALUE = 'sk-live-7f3a9c-very-secret';

async function newAgent(db: Parameters<typeof createAgent>[0], name: string): Promise<string> {
  const created = await createAgent(db, { name });
  if (created.kind !== 'ok') throw new Error(created.reason);
  return created.value.id;
}

describeEachDatabase('secret store (local, envelope-encrypted)', (t) => {
  const keyA = newKey();
  const keyB = newKey();

  it('stores values encrypted, lists metadata only, resolves for delivery', async () => {
    const store = createSecretStore({ db: t.db, backend: 'local', keyring: keyringFrom([keyA], 'test') });
    const agent = await newAgent(t.db, 'secrets-1');
    const first = await store.put(agent, 'openai', VALUE);
    expect(first).toMatchObject({ name: 'openai', version: 1, backend: 'local' });
    expect(first).not.toHaveProperty('ciphertext');
    expect((await store.put(agent, 'openai', `${VALUE}-2`)).version).toBe(2);

    const listed = await store.list(agent);
    expect(listed.map((s) => s.name)).toEqual(['openai']);
    expect(JSON.stringify(listed)).not.toContain(VALUE);

    const dump = rowsOf<{ row: string }>(await t.db.execute(sql`select row_to_json(s)::text as row from secrets s`));
    expect(dump.map((r) => r.row).join('')).not.toContain(VALUE);
    expect(dump.map((r) => r.row).join('')).not.toContain(Buffer.from(VALUE).toString('hex'));

    expect(await store.resolve(agent, ['openai', 'missing'])).toEqual({
      values: { openai: `${VALUE}-2` },
      missing: ['missing'],
    });
    expect(await store.remove(agent, 'openai')).toBe(true);
    expect(await store.remove(agent, 'openai')).toBe(false);
  });

  it('refuses a ciphertext moved to another agent', async () => {
    const store = createSecretStore({ db: t.db, backend: 'local', keyring: keyringFrom([keyA], 'test') });
    const a = await newAgent(t.db, 'secrets-a');
    const b = await newAgent(t.db, 'secrets-b');
    await store.put(a, 'token', 'value-of-a');
    await store.put(b, 'token', 'value-of-b');
    const rowA = await getSecretRow(t.db, a, 'token');
    await t.db.execute(
      sql`update secrets set ciphertext = ${rowA!.ciphertext}, wrapped_key = ${rowA!.wrapped_key} where agent_id = ${b}`,
    );
    await expect(store.resolve(b, ['token'])).rejects.toThrow();
  });

  it('rejects bad names and values and writes nothing', async () => {
    const store = createSecretStore({ db: t.db, backend: 'local', keyring: keyringFrom([keyA], 'test') });
    const agent = await newAgent(t.db, 'secrets-bad');
    await expect(store.put(agent, '../etc', 'x')).rejects.toThrow(/not allowed/);
    await expect(store.put(agent, 'empty', '')).rejects.toThrow(/1 byte to 64 KiB/);
    await expect(store.put(agent, 'huge', 'x'.repeat(64 * 1024 + 1))).rejects.toThrow(/64 KiB/);
    expect(await store.list(agent)).toEqual([]);
  });

  it('rotates the master key by re-wrapping data keys, values unchanged', async () => {
    const agent = await newAgent(t.db, 'secrets-rotate');
    const oldStore = createSecretStore({ db: t.db, backend: 'local', keyring: keyringFrom([keyA], 'test') });
    for (let i = 0; i < 7; i += 1) await oldStore.put(agent, `s${i}`, `value-${i}`);

    const rotating = keyringFrom([keyB, keyA], 'test');
    // The row tampered with in the test above cannot be unwrapped: reported, and the rest go on.
    const first = await rotateMasterKey(t.db, rotating, 3);
    expect(first.rewrapped).toBe(7 + 1); // and the untampered row of agent a
    expect(first.failed).toEqual([expect.objectContaining({ name: 'token' })]);
    const second = await rotateMasterKey(t.db, rotating, 3);
    expect(second).toMatchObject({ rewrapped: 0, failed: [expect.objectContaining({ name: 'token' })] });
    const metadata = await oldStore.list(agent);
    expect(new Set(metadata.map((m) => m.key_id))).toEqual(new Set([rotating.current.id]));
    expect(metadata.every((m) => m.version === 1)).toBe(true);

    const newOnly = createSecretStore({ db: t.db, backend: 'local', keyring: keyringFrom([keyB], 'test') });
    expect((await newOnly.resolve(agent, ['s3'])).values).toEqual({ s3: 'value-3' });
    await expect(oldStore.resolve(agent, ['s3'])).rejects.toThrow(/not configured/);
  });
});

describeEachDatabase('secret store (Supabase Vault backend)', (t) => {
  // Supabase Vault is an extension this machine's Postgres does not have. This shim gives
  // the database its documented SQL interface (vault.create_secret, vault.update_secret,
  // vault.decrypted_secrets) — without Vault's encryption — so the backend's SQL runs for real.
  const installShim = async () => {
    const statements = `
      create schema if not exists vault;
      create table if not exists vault.secrets (id uuid primary key default gen_random_uuid(),
        name text unique, description text, secret text not null);
      create or replace function vault.create_secret(new_secret text, new_name text default null,
        new_description text default '') returns uuid language sql as
        $$ insert into vault.secrets (secret, name, description) values (new_secret, new_name, new_description) returning id $$;
      create or replace function vault.update_secret(secret_id uuid, new_secret text default null,
        new_name text default null, new_description text default null) returns void language sql as
        $$ update vault.secrets set secret = coalesce(new_secret, secret) where id = secret_id $$;
      create or replace view vault.decrypted_secrets as select id, name, description, secret as decrypted_secret from vault.secrets;
    `.split(';\n');
    for (const statement of statements) if (statement.trim()) await t.db.execute(sql.raw(statement));
  };

  it('detects the vault, stores through it and keeps no value in toolbelt tables', async () => {
    expect(await hasVault(t.db)).toBe(false);
    await installShim();
    expect(await hasVault(t.db)).toBe(true);
    const store = createSecretStore({ db: t.db, backend: 'vault' });
    const agent = await newAgent(t.db, 'vault-1');
    expect(await store.put(agent, 'openai', VALUE)).toMatchObject({ version: 1, backend: 'vault' });
    expect(await store.put(agent, 'openai', `${VALUE}-2`)).toMatchObject({ version: 2 });
    const vaultRows = rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from vault.secrets`));
    expect(vaultRows[0]?.n).toBe(1);
    const dump = rowsOf<{ row: string }>(await t.db.execute(sql`select row_to_json(s)::text as row from secrets s`));
    expect(dump.map((r) => r.row).join('')).not.toContain(VALUE);
    expect((await store.resolve(agent, ['openai'])).values).toEqual({ openai: `${VALUE}-2` });
    expect(await store.remove(agent, 'openai')).toBe(true);
    const left = rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from vault.secrets`));
    expect(left[0]?.n).toBe(0);
  });
});

describe('master keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'toolbelt-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a development key file 0600 once, then reuses it', () => {
    const file = join(dir, 'nested', 'master.key');
    const first = loadKeyring({ defaultKeyFile: file });
    expect(first.generated).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadKeyring({ defaultKeyFile: file });
    expect(second.generated).toBe(false);
    expect(second.keyring.current.id).toBe(first.keyring.current.id);
    expect(readFileSync(file, 'utf8').trim()).toHaveLength(44);
  });

  it('takes keys from the variable, current first', () => {
    const [a, b] = [newKey(), newKey()];
    const { keyring } = loadKeyring({ masterKey: `${a},${b}`, defaultKeyFile: join(dir, 'unused') });
    expect(keyring.byId.size).toBe(2);
    expect(keyring.current.key.toString('base64')).toBe(a);
  });

  it('refuses a key that is not 32 bytes of base64, with advice', () => {
    expect(() => keyringFrom(['c2hvcnQ='], 'TOOLBELT_MASTER_KEY')).toThrow(/not 32 bytes of base64/);
    expect(() => keyringFrom([''], 'TOOLBELT_MASTER_KEY')).toThrow(/holds no key/);
  });
});

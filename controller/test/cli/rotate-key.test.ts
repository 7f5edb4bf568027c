import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent, migrate, openDatabase } from '@toolbelt/schema';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createSecretStore, keyringFrom } from '../../src/secrets/index.ts';
import { toolbelt } from './run-toolbelt.ts';

// Each test starts the real binary several times, a node process apiece: seconds each on a
// loaded machine. The deadline is for liveness, not speed.
vi.setConfig({ testTimeout: 180_000 });

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-rotate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const key = () => randomBytes(32).toString('base64');

/** A PGlite data dir holding one agent with secrets stored under `oldKey`. */
async function dataDirWithSecrets(oldKey: string, dir: string): Promise<void> {
  const database = await openDatabase({ dataDir: dir });
  try {
    await migrate(database.db);
    const agent = await createAgent(database.db, { name: 'rotating' });
    if (agent.kind !== 'ok') throw new Error(agent.reason);
    const store = createSecretStore({ db: database.db, backend: 'local', keyring: keyringFrom([oldKey], 'test') });
    await store.put(agent.value.id, 'openai', 'sk-rotate-me');
    await store.put(agent.value.id, 'github', 'ghp-rotate-me');
  } finally {
    await database.close();
  }
}

async function resolveWith(dir: string, keys: string[]): Promise<Record<string, string>> {
  const database = await openDatabase({ dataDir: dir });
  try {
    const agent = await database.db.query.agents.findFirst();
    const store = createSecretStore({ db: database.db, backend: 'local', keyring: keyringFrom(keys, 'test') });
    return (await store.resolve(agent!.id, ['openai', 'github'])).values;
  } finally {
    await database.close();
  }
}

describe('toolbelt secrets rotate-key', () => {
  it('re-wraps every secret under the new key; afterwards the old key can go', async () => {
    const [oldKey, newKey] = [key(), key()];
    const dir = join(scratch, 'ok');
    await dataDirWithSecrets(oldKey, dir);
    const run = await toolbelt(['secrets', 'rotate-key', '--data-dir', dir], {
      env: { TOOLBELT_MASTER_KEY: `${newKey},${oldKey}`, LOG_FORMAT: 'json' },
    });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/re-wrapped 2 secret\(s\) under master key/);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/rotate-me|sk-|ghp-/);
    expect(await resolveWith(dir, [newKey])).toEqual({ openai: 'sk-rotate-me', github: 'ghp-rotate-me' });
  }, 120_000);

  it('names each secret it cannot unwrap and exits 1, changing none of them', async () => {
    const dir = join(scratch, 'missing-key');
    const oldKey = key();
    await dataDirWithSecrets(oldKey, dir);
    const run = await toolbelt(['secrets', 'rotate-key', '--data-dir', dir], { env: { TOOLBELT_MASTER_KEY: key(), LOG_FORMAT: 'json' } });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/could not re-wrap a secret/);
    expect(run.stdout).toMatch(/"name":"openai"/);
    expect(await resolveWith(dir, [oldKey])).toEqual({ openai: 'sk-rotate-me', github: 'ghp-rotate-me' });
  }, 120_000);
});

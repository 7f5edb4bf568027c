/**
 * The secret store: values go in and come out only to be delivered to the agent of the
 * droplet whose tool needs them. Names, versions and timestamps can be listed; values never.
 *
 * Two backends share one table of metadata: `local` keeps the value envelope-encrypted in
 * the row; `vault` keeps it in Supabase Vault (`vault.create_secret`,
 * `vault.decrypted_secrets`) and the row holds only the vault's id.
 *
 * A put or a remove announces the agent's `tools` key in its own transaction
 * (`announceAgentToolsChange`): the tools reconciler delivers a new version again, or reports
 * a missing one.
 */
import {
  announceAgentToolsChange,
  type Db,
  deleteSecret,
  getSecretRow,
  listSecretMetadata,
  rowsOf,
  type SecretMetadata,
  type SecretRow,
  ToolbeltError,
  upsertSecret,
} from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import { decryptValue, encryptValue, secretAad } from './envelope.ts';
import type { Keyring } from './keyring.ts';

export type SecretBackend = 'local' | 'vault';
export type { SecretMetadata } from '@toolbelt/schema';

export interface SecretStore {
  readonly backend: SecretBackend;
  /** Stores a value (replacing any earlier one, whose version it bumps). */
  put(agentId: string, name: string, value: string): Promise<SecretMetadata>;
  list(agentId: string): Promise<SecretMetadata[]>;
  remove(agentId: string, name: string): Promise<boolean>;
  /** The values of the named secrets, for delivery to the agent only. */
  resolve(agentId: string, names: readonly string[]): Promise<{ values: Record<string, string>; missing: string[] }>;
}

export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

/** Refuses a bad name or value with a message that says what is allowed. */
export function checkSecretInput(name: string, value?: string): void {
  if (!SECRET_NAME.test(name)) {
    throw new ToolbeltError('SECRET_NAME_INVALID', `secret name ${JSON.stringify(name)} is not allowed`, {
      hint: 'use 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
  if (value !== undefined && (value.length === 0 || Buffer.byteLength(value) > MAX_SECRET_BYTES)) {
    throw new ToolbeltError('SECRET_VALUE_INVALID', `the value of secret "${name}" must be 1 byte to 64 KiB`);
  }
}

export interface SecretStoreOptions {
  db: Db;
  backend: SecretBackend;
  /** Required for the local backend. */
  keyring?: Keyring;
}

export function createSecretStore(options: SecretStoreOptions): SecretStore {
  if (options.backend === 'vault') return vaultStore(options.db);
  if (!options.keyring) throw new Error('the local secret backend needs a keyring');
  return localStore(options.db, options.keyring);
}

async function resolveEach(
  names: readonly string[],
  read: (name: string) => Promise<string | undefined>,
): Promise<{ values: Record<string, string>; missing: string[] }> {
  const values: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of new Set(names)) {
    const value = await read(name);
    if (value === undefined) missing.push(name);
    else values[name] = value;
  }
  return { values, missing };
}

function localStore(db: Db, keyring: Keyring): SecretStore {
  const open = (row: SecretRow) => {
    if (row.backend !== 'local' || !row.wrapped_key || !row.ciphertext) {
      throw new ToolbeltError('SECRET_BACKEND_MISMATCH', `secret "${row.name}" is held by the ${row.backend} backend`, {
        hint: 'set TOOLBELT_SECRETS_BACKEND to the backend that stored it',
      });
    }
    const envelope = { keyId: row.key_id, wrappedKey: row.wrapped_key, ciphertext: row.ciphertext };
    return decryptValue(keyring, envelope, secretAad(row.agent_id, row.name));
  };
  return {
    backend: 'local',
    async put(agentId, name, value) {
      checkSecretInput(name, value);
      const envelope = encryptValue(keyring, value, secretAad(agentId, name));
      return db.transaction(async (tx) => {
        const stored = await upsertSecret(tx, { agentId, name, backend: 'local', vaultSecretId: null, ...envelope });
        await announceAgentToolsChange(tx, agentId);
        return stored;
      });
    },
    list: (agentId) => listSecretMetadata(db, agentId),
    async remove(agentId, name) {
      return db.transaction(async (tx) => {
        const removed = await deleteSecret(tx, agentId, name);
        await announceAgentToolsChange(tx, agentId);
        return removed !== undefined;
      });
    },
    resolve: (agentId, names) =>
      resolveEach(names, async (name) => {
        const row = await getSecretRow(db, agentId, name);
        return row ? open(row) : undefined;
      }),
  };
}

function vaultStore(db: Db): SecretStore {
  const vaultName = (agentId: string, name: string) => `toolbelt/${agentId}/${name}`;
  return {
    backend: 'vault',
    async put(agentId, name, value) {
      checkSecretInput(name, value);
      return db.transaction(async (tx) => {
        const existing = await getSecretRow(tx, agentId, name);
        let id = existing?.vault_secret_id ?? null;
        if (id) await tx.execute(sql`select vault.update_secret(${id}::uuid, ${value})`);
        else {
          const created = rowsOf<{ id: string }>(
            await tx.execute(sql`select vault.create_secret(${value}, ${vaultName(agentId, name)}, 'toolbelt') as id`),
          );
          id = created[0]!.id;
        }
        const stored = await upsertSecret(tx, {
          agentId,
          name,
          backend: 'vault',
          keyId: 'vault',
          wrappedKey: null,
          ciphertext: null,
          vaultSecretId: id,
        });
        await announceAgentToolsChange(tx, agentId);
        return stored;
      });
    },
    list: (agentId) => listSecretMetadata(db, agentId),
    async remove(agentId, name) {
      return db.transaction(async (tx) => {
        const row = await deleteSecret(tx, agentId, name);
        if (row?.vault_secret_id) await tx.execute(sql`delete from vault.secrets where id = ${row.vault_secret_id}::uuid`);
        await announceAgentToolsChange(tx, agentId);
        return row !== undefined;
      });
    },
    resolve: (agentId, names) =>
      resolveEach(names, async (name) => {
        const row = await getSecretRow(db, agentId, name);
        if (!row?.vault_secret_id) return undefined;
        const found = rowsOf<{ value: string }>(
          await db.execute(
            sql`select decrypted_secret as value from vault.decrypted_secrets where id = ${row.vault_secret_id}::uuid`,
          ),
        );
        return found[0]?.value;
      }),
  };
}

/** Whether the database has Supabase Vault's functions. */
export async function hasVault(db: Db): Promise<boolean> {
  const rows = rowsOf<{ fn: string | null }>(
    await db.execute(sql`select to_regprocedure('vault.create_secret(text, text, text)')::text as fn`),
  );
  return Boolean(rows[0]?.fn);
}

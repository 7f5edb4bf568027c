/**
 * Queries on the `secrets` table. Metadata reads never select the encrypted columns, so a
 * caller that lists secrets cannot leak a value by accident.
 */
import { and, asc, eq, gt, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { secrets } from './tables.ts';

export type SecretRow = typeof secrets.$inferSelect;
/** What may be shown of a secret: never its value. */
export type SecretMetadata = Pick<SecretRow, 'name' | 'version' | 'backend' | 'key_id' | 'created_at' | 'updated_at'>;

const metadataColumns = {
  name: secrets.name,
  version: secrets.version,
  backend: secrets.backend,
  key_id: secrets.key_id,
  created_at: secrets.created_at,
  updated_at: secrets.updated_at,
};

export interface SecretWrite {
  agentId: string;
  name: string;
  backend: string;
  keyId: string;
  wrappedKey: Buffer | null;
  ciphertext: Buffer | null;
  vaultSecretId: string | null;
}

const sqlIncrement = () => sql`${secrets.version} + 1`;

/** Inserts a secret or replaces its value, bumping its version. */
export async function upsertSecret(db: DbOrTx, write: SecretWrite): Promise<SecretMetadata> {
  const values = {
    backend: write.backend,
    key_id: write.keyId,
    wrapped_key: write.wrappedKey,
    ciphertext: write.ciphertext,
    vault_secret_id: write.vaultSecretId,
  };
  const [row] = await db
    .insert(secrets)
    .values({ agent_id: write.agentId, name: write.name, ...values })
    .onConflictDoUpdate({
      target: [secrets.agent_id, secrets.name],
      set: { ...values, version: sqlIncrement(), updated_at: new Date() },
    })
    .returning(metadataColumns);
  return row!;
}


/** The full row, encrypted columns included: for the secret store only. */
export async function getSecretRow(db: DbOrTx, agentId: string, name: string): Promise<SecretRow | undefined> {
  const [row] = await db
    .select()
    .from(secrets)
    .where(and(eq(secrets.agent_id, agentId), eq(secrets.name, name)));
  return row;
}

export async function listSecretMetadata(db: DbOrTx, agentId: string): Promise<SecretMetadata[]> {
  return db.select(metadataColumns).from(secrets).where(eq(secrets.agent_id, agentId)).orderBy(asc(secrets.name));
}

export async function deleteSecret(db: DbOrTx, agentId: string, name: string): Promise<SecretRow | undefined> {
  const [row] = await db
    .delete(secrets)
    .where(and(eq(secrets.agent_id, agentId), eq(secrets.name, name)))
    .returning();
  return row;
}

/** Locally encrypted rows whose data key is wrapped by a key other than `keyId`, by id after `afterId`. */
export async function listSecretsNotUnderKey(
  db: DbOrTx,
  keyId: string,
  page: { limit: number; afterId?: string },
): Promise<SecretRow[]> {
  return db
    .select()
    .from(secrets)
    .where(
      and(
        eq(secrets.backend, 'local'),
        ne(secrets.key_id, keyId),
        page.afterId === undefined ? undefined : gt(secrets.id, page.afterId),
      ),
    )
    .orderBy(asc(secrets.id))
    .limit(page.limit);
}

/** Replaces a row's wrapped data key (rotation); the value and its version are unchanged. */
export async function rewrapSecret(db: DbOrTx, id: string, keyId: string, wrappedKey: Buffer): Promise<void> {
  await db.update(secrets).set({ key_id: keyId, wrapped_key: wrappedKey }).where(eq(secrets.id, id));
}

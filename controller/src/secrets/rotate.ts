/**
 * Master-key rotation: re-wraps the data key of every locally encrypted secret that is not
 * yet under the ring's current key. Values are never decrypted, only data keys; each batch
 * commits on its own, so an interrupted rotation resumes where it stopped. A row that cannot
 * be unwrapped (its key is not in the ring, or it was tampered with) is reported and left
 * as it is; it does not stop the others.
 */
import { type Db, listSecretsNotUnderKey, rewrapSecret, type SecretRow } from '@toolbelt/schema';
import { rewrapKey, secretAad } from './envelope.ts';
import type { Keyring } from './keyring.ts';

export interface RotationResult {
  rewrapped: number;
  failed: { agentId: string; name: string; reason: string }[];
}

export async function rotateMasterKey(db: Db, keyring: Keyring, batchSize = 500): Promise<RotationResult> {
  const result: RotationResult = { rewrapped: 0, failed: [] };
  let afterId: string | undefined;
  for (;;) {
    const rows = await db.transaction(async (tx) => {
      const page = await listSecretsNotUnderKey(tx, keyring.current.id, { limit: batchSize, afterId });
      for (const row of page) {
        const wrapped = tryRewrap(keyring, row, result);
        if (wrapped) await rewrapSecret(tx, row.id, keyring.current.id, wrapped);
      }
      return page;
    });
    afterId = rows.at(-1)?.id;
    if (rows.length < batchSize) return result;
  }
}

function tryRewrap(keyring: Keyring, row: SecretRow, result: RotationResult): Buffer | undefined {
  try {
    const envelope = { keyId: row.key_id, wrappedKey: row.wrapped_key!, ciphertext: row.ciphertext! };
    const next = rewrapKey(keyring, envelope, secretAad(row.agent_id, row.name)).wrappedKey;
    result.rewrapped += 1;
    return next;
  } catch (error) {
    result.failed.push({ agentId: row.agent_id, name: row.name, reason: (error as Error).message });
    return undefined;
  }
}

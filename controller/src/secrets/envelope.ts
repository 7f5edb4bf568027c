/**
 * AES-256-GCM envelope encryption. Each value gets its own random data key; the value is
 * sealed under the data key and the data key under a master key. Both seals bind the row's
 * identity as additional authenticated data, so a ciphertext copied onto another row (or
 * another agent) fails to open instead of decrypting as that row's secret.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ToolbeltError } from '@toolbelt/schema';
import type { Keyring, MasterKey } from './keyring.ts';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** iv ‖ tag ‖ ciphertext */
function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function unseal(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

/** The additional authenticated data of a secret: binds its ciphertext to its agent and name. */
export const secretAad = (agentId: string, name: string): string => `toolbelt:secret:${agentId}:${name}`;

export interface Envelope {
  keyId: string;
  wrappedKey: Buffer;
  ciphertext: Buffer;
}

/** Encrypts `value` under a fresh data key wrapped by the ring's current key. */
export function encryptValue(keyring: Keyring, value: string, aad: string): Envelope {
  const dataKey = randomBytes(32);
  try {
    return {
      keyId: keyring.current.id,
      wrappedKey: seal(keyring.current.key, dataKey, aad),
      ciphertext: seal(dataKey, Buffer.from(value, 'utf8'), aad),
    };
  } finally {
    dataKey.fill(0);
  }
}

function keyFor(keyring: Keyring, keyId: string): MasterKey {
  const key = keyring.byId.get(keyId);
  if (!key) {
    throw new ToolbeltError('SECRETS_KEY_MISSING', `a secret is wrapped by master key ${keyId}, which is not configured`, {
      hint: 'add that key after the current one in TOOLBELT_MASTER_KEY (comma-separated) or the key file',
    });
  }
  return key;
}

/** Decrypts an envelope; a wrong key or a tampered/moved ciphertext throws. */
export function decryptValue(keyring: Keyring, envelope: Envelope, aad: string): string {
  const dataKey = unseal(keyFor(keyring, envelope.keyId).key, envelope.wrappedKey, aad);
  try {
    return unseal(dataKey, envelope.ciphertext, aad).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps an envelope's data key under the ring's current key; the value is untouched. */
export function rewrapKey(keyring: Keyring, envelope: Envelope, aad: string): Envelope {
  const dataKey = unseal(keyFor(keyring, envelope.keyId).key, envelope.wrappedKey, aad);
  try {
    return { ...envelope, keyId: keyring.current.id, wrappedKey: seal(keyring.current.key, dataKey, aad) };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Master keys for envelope encryption. The first key of the ring is current (it wraps new
 * data keys); the rest are previous keys, kept only to unwrap rows until a rotation has
 * re-wrapped them. A key's id is derived from the key itself, so it needs no bookkeeping.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ToolbeltError } from '@toolbelt/schema';

export interface MasterKey {
  /** 16 hex digits of SHA-256 over the key: recorded on each row it wraps. */
  readonly id: string;
  readonly key: Buffer;
}

export interface Keyring {
  readonly current: MasterKey;
  /** Every key by id, the current one included. */
  readonly byId: ReadonlyMap<string, MasterKey>;
}

const KEY_BYTES = 32;

function toMasterKey(encoded: string, source: string): MasterKey {
  const key = Buffer.from(encoded.trim(), 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== encoded.trim()) {
    throw new ToolbeltError('SECRETS_KEY_INVALID', `${source} holds a key that is not ${KEY_BYTES} bytes of base64`, {
      hint: 'make one with: openssl rand -base64 32',
    });
  }
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

/** Builds a ring from base64 keys, current first. */
export function keyringFrom(encodedKeys: readonly string[], source: string): Keyring {
  const keys = encodedKeys.filter((k) => k.trim().length > 0).map((k) => toMasterKey(k, source));
  if (keys.length === 0) {
    throw new ToolbeltError('SECRETS_KEY_INVALID', `${source} holds no key`, {
      hint: 'make one with: openssl rand -base64 32',
    });
  }
  return { current: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])) };
}

export interface KeySource {
  /** TOOLBELT_MASTER_KEY: base64 keys separated by commas, current first. */
  masterKey?: string | undefined;
  /** TOOLBELT_MASTER_KEY_FILE: one base64 key per line, current first. */
  masterKeyFile?: string | undefined;
  /** Where a development key is kept when neither is given. */
  defaultKeyFile: string;
}

/**
 * Loads the keyring: from the variable, else the file, else a development key file that is
 * created (0600) on first use. `generated` says whether that last case happened, so the
 * caller can warn that production wants a key of its own.
 */
export function loadKeyring(source: KeySource): { keyring: Keyring; origin: string; generated: boolean } {
  if (source.masterKey) {
    return { keyring: keyringFrom(source.masterKey.split(','), 'TOOLBELT_MASTER_KEY'), origin: 'TOOLBELT_MASTER_KEY', generated: false };
  }
  const file = source.masterKeyFile ?? source.defaultKeyFile;
  let generated = false;
  if (!source.masterKeyFile && !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    generated = true;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ToolbeltError('SECRETS_KEY_UNREADABLE', `cannot read the master key file ${file}`, {
      hint: 'check TOOLBELT_MASTER_KEY_FILE and the file permissions',
      cause,
    });
  }
  // Only a file we generated is ours to tighten: a configured one may be a read-only mounted secret.
  if (generated) chmodSync(file, 0o600);
  return { keyring: keyringFrom(text.split('\n'), file), origin: file, generated };
}

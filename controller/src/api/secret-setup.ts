/**
 * The secret store a controller serves, built from its config: `local` keeps values
 * envelope-encrypted under master keys from TOOLBELT_MASTER_KEY or TOOLBELT_MASTER_KEY_FILE
 * — or, on PGlite only, a development key generated once into `<dataDir>/master-key` (0600;
 * a warning says production wants its own; on Postgres a missing key refuses to start);
 * `vault` keeps them in Supabase Vault, which the database must have.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Db, ToolbeltError } from '@toolbelt/schema';
import { type Config, requireSharedMasterKey } from '../config.ts';
import type { Logger } from '../logger.ts';
import { createSecretStore, hasVault, keyringFrom, loadKeyring, type SecretStore } from '../secrets/index.ts';

/**
 * The master keys the config names (variable, file, or the development key in the data dir);
 * on Postgres a key must be configured (`requireSharedMasterKey`), never generated.
 */
export function keyringOf(config: Config): ReturnType<typeof loadKeyring> {
  requireSharedMasterKey(config);
  return loadKeyring({
    masterKey: config.masterKey,
    masterKeyFile: config.masterKeyFile,
    defaultKeyFile: join(config.dataDir, 'master-key'),
  });
}

export async function openSecretStore(config: Config, db: Db, logger: Logger): Promise<SecretStore> {
  if (config.secretsBackend === 'vault') {
    if (!(await hasVault(db))) {
      throw new ToolbeltError('SECRETS_VAULT_MISSING', 'TOOLBELT_SECRETS_BACKEND=vault, but this database has no Supabase Vault', {
        hint: 'enable the supabase_vault extension, or use TOOLBELT_SECRETS_BACKEND=local with a master key',
      });
    }
    logger.info('secrets are kept in Supabase Vault');
    return createSecretStore({ db, backend: 'vault' });
  }
  if (!config.masterKey && !config.masterKeyFile && !config.databaseUrl && config.dataDir.startsWith('memory://')) {
    // An in-memory database forgets its secrets anyway; so may its key.
    logger.warn('secrets use a throw-away master key (in-memory database); set TOOLBELT_MASTER_KEY to keep them');
    return createSecretStore({ db, backend: 'local', keyring: keyringFrom([randomBytes(32).toString('base64')], 'a generated key') });
  }
  const { keyring, origin, generated } = keyringOf(config);
  if (generated) {
    logger.warn({ file: origin }, `generated a development master key in ${origin}; production wants TOOLBELT_MASTER_KEY or TOOLBELT_MASTER_KEY_FILE`);
  }
  logger.info({ keys: keyring.byId.size, origin }, 'secrets are envelope-encrypted in the database');
  return createSecretStore({ db, backend: 'local', keyring });
}

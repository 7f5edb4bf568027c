/**
 * The first admin token. If `TOOLBELT_ADMIN_TOKEN` is set, its hash is registered as an
 * admin token (idempotently). Otherwise, when no live admin token exists, one is created
 * and printed ONCE to stderr on a clearly marked line — deliberately not through the JSON
 * logger, so that no log line carries it — and, for a PGlite data directory, written to
 * `<dataDir>/admin-token` (mode 0600) where the CLI finds it for the quick start.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApiToken, type Db, hashApiToken, hasLiveAdminToken, revokeOtherTokensNamed } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import type { Logger } from '../logger.ts';
import { generateApiToken } from './routes/system.ts';

/** Namespaced advisory-lock key: two replicas starting at once create one token, not two. */
const BOOTSTRAP_LOCK_KEY = 0x7001_0003;
/** The name TOOLBELT_ADMIN_TOKEN's token is registered under (one live value at a time). */
const ENV_TOKEN_NAME = 'admin (TOOLBELT_ADMIN_TOKEN)';
/** The file a PGlite controller writes its first admin token to. */
export const ADMIN_TOKEN_FILE = 'admin-token';

export interface BootstrapOptions {
  db: Db;
  logger: Logger;
  /** TOOLBELT_ADMIN_TOKEN, when set. */
  adminToken?: string | undefined;
  /** PGlite's data directory (not for `memory://` or Postgres): where the token file goes. */
  dataDir?: string | undefined;
  /** Where the one-time line is printed (default: process.stderr). */
  stderr?: NodeJS.WritableStream;
}

export type BootstrapResult = 'from-environment' | 'created' | 'exists';

export async function ensureAdminToken(options: BootstrapOptions): Promise<BootstrapResult> {
  const { db, logger } = options;
  if (options.adminToken) {
    const tokenHash = hashApiToken(options.adminToken);
    const revoked = await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`);
      const row = await createApiToken(tx, { name: ENV_TOKEN_NAME, role: 'admin', tokenHash });
      if (row.revoked_at) logger.warn('the value of TOOLBELT_ADMIN_TOKEN was revoked and stays revoked; set a new value');
      // A changed setting replaces the old value: it must stop working, not linger as an admin.
      return revokeOtherTokensNamed(tx, { name: ENV_TOKEN_NAME, keepHash: tokenHash, at: new Date() });
    });
    logger.info({ revokedPrevious: revoked }, `the admin token from TOOLBELT_ADMIN_TOKEN is registered${revoked ? '; the value it replaced is revoked' : ''}`);
    return 'from-environment';
  }
  const token = generateApiToken();
  const created = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`);
    if (await hasLiveAdminToken(tx)) return false;
    await createApiToken(tx, { name: 'admin (first start)', role: 'admin', tokenHash: hashApiToken(token) });
    return true;
  });
  if (!created) return 'exists';
  const stderr = options.stderr ?? process.stderr;
  stderr.write(
    `\n*** toolbelt first start: admin API token (shown once, not logged): ${token}\n` +
      '*** use it as TOOLBELT_TOKEN or --token; create more with POST /v1/tokens\n\n',
  );
  let file: string | undefined;
  if (options.dataDir && !options.dataDir.startsWith('memory://')) {
    file = join(options.dataDir, ADMIN_TOKEN_FILE);
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
  }
  logger.info({ file }, `created the first admin token; it was printed once on stderr${file ? ` and written to ${file}` : ''}`);
  return 'created';
}

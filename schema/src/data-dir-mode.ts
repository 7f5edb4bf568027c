/**
 * The embedded database's directory holds everything toolbelt keeps (WAL, catalogs, token and
 * credential hashes, encrypted secrets): only its owner may enter it. It is created 0700 (its
 * missing parents too); an existing one that group or others can reach is refused with the
 * command that fixes it, before anything is written; and what PGlite extracted inside with the
 * process umask is made owner-only.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ToolbeltError } from './errors.ts';

const GROUP_OR_OTHERS = 0o077;

/** Creates `dataDir` 0700 if missing; throws `DB_DATA_DIR_MODE` if group or others can reach it. */
export function ensurePrivateDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const mode = statSync(dataDir).mode & 0o777;
  if ((mode & GROUP_OR_OTHERS) === 0) return;
  throw new ToolbeltError(
    'DB_DATA_DIR_MODE',
    `the data directory ${dataDir} can be reached by group or others (mode ${mode.toString(8).padStart(4, '0')})`,
    { hint: `it holds the whole database: run \`chmod -R go-rwx '${dataDir.replaceAll("'", `'\\''`)}'\`, then start again` },
  );
}

/** Removes group and other permissions from everything below `dir` (links are left alone). */
export function tightenBelow(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue;
    const path = join(dir, entry.name);
    const mode = lstatSync(path).mode & 0o777;
    if ((mode & GROUP_OR_OTHERS) !== 0) chmodSync(path, mode & ~GROUP_OR_OTHERS);
    if (entry.isDirectory()) tightenBelow(path);
  }
}

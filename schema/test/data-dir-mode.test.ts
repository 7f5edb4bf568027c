/**
 * The embedded database's directory is the owner's alone (issue 11, finding 6): created 0700,
 * what PGlite extracts inside made owner-only, and a directory that group or others can reach
 * refused with the command that fixes it, before anything is written into it.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { migrate, openDatabase, ToolbeltError } from '../src/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'toolbelt-data-dir-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every path below `dir` whose mode lets group or others in. */
function reachableBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isSymbolicLink())
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => (statSync(path).mode & 0o077) !== 0);
}

it('creates a missing data directory (and its parents) 0700 and leaves nothing inside reachable', async () => {
  const parent = join(scratch, 'fresh');
  const dataDir = join(parent, 'data');
  const database = await openDatabase({ dataDir });
  try {
    await migrate(database.db);
  } finally {
    await database.close();
  }
  expect(statSync(parent).mode & 0o777).toBe(0o700);
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  expect(readdirSync(dataDir).length).toBeGreaterThan(0);
  expect(reachableBelow(dataDir)).toEqual([]);
}, 60_000);

it('refuses a data directory that group or others can reach, names the fix, and writes nothing', async () => {
  const dataDir = join(scratch, 'open');
  mkdirSync(dataDir, { mode: 0o755 });
  chmodSync(dataDir, 0o755);
  const refusal = await openDatabase({ dataDir }).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(refusal).toBeInstanceOf(ToolbeltError);
  expect((refusal as ToolbeltError).code).toBe('DB_DATA_DIR_MODE');
  expect((refusal as ToolbeltError).describe()).toContain(`chmod -R go-rwx '${dataDir}'`);
  expect(readdirSync(dataDir)).toEqual([]);

  chmodSync(dataDir, 0o700);
  const database = await openDatabase({ dataDir });
  await database.close();
}, 60_000);

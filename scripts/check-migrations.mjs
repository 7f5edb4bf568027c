#!/usr/bin/env node
// Regenerates the SQL migrations from schema/src/tables.ts into a scratch copy of
// schema/drizzle/ and fails if anything differs: the committed migrations must match the
// schema (CI runs this; `npm run db:generate` fixes a difference).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const committed = 'schema/drizzle';
// drizzle-kit mangles absolute --out paths, so the scratch copy lives in the (ignored) .toolbelt/.
const scratch = `.toolbelt/migration-check-${process.pid}`;
const copy = join(scratch, 'drizzle');
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
cpSync(committed, copy, { recursive: true });

// drizzle-kit can exit 0 after an error: demand one of its two success lines.
let output;
try {
  output = execFileSync(
    'npx',
    ['drizzle-kit', 'generate', '--dialect', 'postgresql', '--schema', 'schema/src/tables.ts', '--out', copy],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
} catch (error) {
  output = `${error.stdout ?? ''}${error.stderr ?? ''}`;
}
if (!/No schema changes|Your SQL migration file/.test(output)) {
  rmSync(scratch, { recursive: true, force: true });
  console.error(`drizzle-kit generate did not run cleanly:\n${output}`);
  process.exit(1);
}

const files = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
const before = files(committed);
const after = files(copy);
const changed = after.filter(
  (f) => !before.includes(f) || readFileSync(join(copy, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'),
);
rmSync(scratch, { recursive: true, force: true });
if (changed.length > 0) {
  console.error(`migrations do not match schema/src/tables.ts; regenerating changed: ${changed.join(', ')}`);
  console.error('run `npm run db:generate` and commit schema/drizzle/');
  process.exit(1);
}
console.log(`migrations match the schema (${before.filter((f) => f.endsWith('.sql')).length} migrations)`);

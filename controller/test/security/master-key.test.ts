/**
 * A configured master key file (a mounted secret, often read-only) is read, never chmodded;
 * a generated one is 0600.
 */
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyring } from '../../src/secrets/keyring.ts';

const dir = mkdtempSync(join(tmpdir(), 'toolbelt-master-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('master key files', () => {
  it('leaves the mode of a configured key file alone', () => {
    const file = join(dir, 'mounted-key');
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`);
    chmodSync(file, 0o440);
    const { generated } = loadKeyring({ masterKeyFile: file, defaultKeyFile: join(dir, 'unused') });
    expect(generated).toBe(false);
    expect(statSync(file).mode & 0o777).toBe(0o440);
  });

  it('writes a generated key file 0600', () => {
    const file = join(dir, 'generated', 'master.key');
    const { generated } = loadKeyring({ defaultKeyFile: file });
    expect(generated).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

/**
 * A self-update on trial (update-trial.ts): confirmed by the new agent's hello, or rolled back
 * by the watcher at its deadline. The whole path under systemd, with a release that exits at
 * start, is in controller/test/e2e/droplet-boot.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { confirmUpdate, ROLLBACK_FILE, TRIAL_FILE, watchUpdate } from '../src/update-trial.ts';
import { tempDir } from './helpers/agent-process.ts';

/** An install dir with releases A and B, `current` → B on trial until `deadline`. */
function onTrial(deadline: Date): string {
  const dir = tempDir('toolbelt-install-');
  for (const v of ['A', 'B']) mkdirSync(join(dir, 'releases', v), { recursive: true });
  symlinkSync(join(dir, 'releases', 'B'), join(dir, 'current'));
  writeFileSync(join(dir, TRIAL_FILE), JSON.stringify({ version: 'B', previous: join(dir, 'releases', 'A'), deadline: deadline.toISOString() }));
  return dir;
}

describe('self-update trial', () => {
  it('rolls back an unconfirmed release at its deadline and restarts the agent', async () => {
    const dir = onTrial(new Date(Date.now() + 300));
    let restarts = 0;
    const outcome = await watchUpdate(dir, { pollMs: 50, restart: async () => void (restarts += 1) });
    expect(outcome).toBe('rolled_back');
    expect(restarts).toBe(1);
    expect(readlinkSync(join(dir, 'current'))).toBe(join(dir, 'releases', 'A'));
    expect(JSON.parse(readFileSync(join(dir, ROLLBACK_FILE), 'utf8'))).toMatchObject({ version: 'B', to: join(dir, 'releases', 'A') });
    expect(existsSync(join(dir, TRIAL_FILE))).toBe(false);
  });

  it('ends the trial when the new release says hello; another version confirms nothing', async () => {
    const dir = onTrial(new Date(Date.now() + 60_000));
    expect(await confirmUpdate(dir, 'A')).toBe(false);
    expect(existsSync(join(dir, TRIAL_FILE))).toBe(true);
    const watching = watchUpdate(dir, { pollMs: 50, restart: () => Promise.reject(new Error('no restart expected')) });
    expect(await confirmUpdate(dir, 'B')).toBe(true);
    expect(await watching).toBe('confirmed');
    expect(readlinkSync(join(dir, 'current'))).toBe(join(dir, 'releases', 'B'));
    expect(existsSync(join(dir, ROLLBACK_FILE))).toBe(false);
  });
});

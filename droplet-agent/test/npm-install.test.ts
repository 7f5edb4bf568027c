/**
 * Atomic npm installs: a tool's directory appears only once npm finished, so an install cut
 * short (the droplet's power cut, the agent killed) never leaves a package that counts as
 * installed, and the next install starts clean.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installPackage, resolveBin, runNpm } from '../src/runtimes/process/npm.ts';
import { tempDir } from './helpers/agent-process.ts';

/** A local package with one bin, installable as `tiny@file:DIR`. */
function tinyPackage(): string {
  const dir = tempDir('toolbelt-tiny-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tiny', version: '1.0.0', bin: { tiny: 'bin/tiny.js' } }));
  writeFileSync(join(dir, 'bin', 'tiny.js'), '#!/usr/bin/env node\nconsole.log("tiny");\n');
  return dir;
}

/** An npm that writes half a package and then dies as a power cut would kill it. */
function dyingNpm(): string {
  const script = join(tempDir('toolbelt-dying-npm-'), 'npm');
  writeFileSync(script, '#!/bin/sh\nmkdir -p node_modules/tiny\necho "{\\"name\\":\\"tiny\\",\\"bin\\":{\\"tiny\\":\\"x.js\\"}}" > node_modules/tiny/package.json\nkill -9 $$\n');
  chmodSync(script, 0o755);
  return script;
}

describe('npm installs', () => {
  it('a killed install leaves nothing installed; the next one starts clean and installs', async () => {
    const tools = tempDir('toolbelt-tools-');
    const dir = join(tools, 'pkg');
    const source = tinyPackage();
    await expect(installPackage({ command: dyingNpm() }, dir, 'tiny', `file:${source}`)).rejects.toMatchObject({ code: 'AGENT_ERR_INSTALL_FAILED' });
    expect(existsSync(dir), 'no tool directory after a killed install').toBe(false);
    await expect(resolveBin(dir, 'tiny', undefined)).rejects.toThrow(/not installed/);
    // What a power cut leaves (the agent did not get to clean up): a staging directory.
    mkdirSync(join(tools, 'pkg.installing-deadbeef', 'node_modules', 'tiny'), { recursive: true });

    await installPackage({ command: 'npm' }, dir, 'tiny', `file:${source}`);
    expect(await resolveBin(dir, 'tiny', undefined)).toBe(join(dir, 'node_modules', 'tiny', 'bin', 'tiny.js'));
    expect(readdirSync(tools)).toEqual(['pkg']);
    // Installed already: kept as it is (even an npm that would die is not run).
    await installPackage({ command: dyingNpm() }, dir, 'tiny', `file:${source}`);
    expect(readdirSync(tools)).toEqual(['pkg']);
  });

  it('runs npm under the agent\'s own node when PATH has none (systemd\'s PATH on a droplet)', async () => {
    // nodejs.org's bin/npm is `#!/usr/bin/env node`, and a droplet's node is on no default PATH.
    const npm = join(tempDir('toolbelt-env-npm-'), 'npm');
    writeFileSync(npm, '#!/usr/bin/env node\nconsole.log(process.execPath);\n');
    chmodSync(npm, 0o755);
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect((await runNpm({ command: npm }, ['--version'], tempDir('toolbelt-cwd-'))).trim()).toBe(realpathSync(process.execPath));
    } finally {
      process.env.PATH = saved;
    }
  });
});

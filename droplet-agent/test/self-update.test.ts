import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_ERROR_CODES } from '@toolbelt/schema/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { startAgentProcess, tempDir, testConfig } from './helpers/agent-process.ts';
import { startTestPeer } from './helpers/peer.ts';
import { serveAgentRelease } from './helpers/release-server.ts';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A tiny local npm package whose bin runs until killed. */
function sleeperPackage(): string {
  const dir = tempDir('toolbelt-sleeper-');
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sleeper', version: '1.0.0', bin: { sleeper: 'bin/sleeper.js' } }));
  writeFileSync(join(dir, 'bin', 'sleeper.js'), "#!/usr/bin/env node\nconsole.log('sleeping');\nsetInterval(() => {}, 1 << 30);\n");
  return dir;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

async function setup() {
  const peer = await startTestPeer();
  cleanups.push(() => peer.close());
  const config = testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken });
  const agent = startAgentProcess(config);
  cleanups.push(() => agent.kill('SIGKILL'));
  await peer.waitFor('credential_ack');
  return { peer, agent, installDir: config.installDir! };
}

describe('self-update and graceful shutdown', () => {
  it('installs the release asked for, swaps `current`, and exits for systemd to restart it — tools keep running', async () => {
    const { peer, agent, installDir } = await setup();
    const sleeper = await peer.command({
      commandType: 'install',
      toolInstanceId: 'sleepy',
      generation: 1,
      payload: { tool: { instanceName: 'sleepy', packagingType: 'npm_package', packageIdentifier: 'sleeper', version: `file:${sleeperPackage()}`, transport: 'none' } },
    });
    expect(sleeper.status).toBe('done');
    const started = await peer.command({ commandType: 'start', toolInstanceId: 'sleepy', generation: 1, payload: {} });
    const pid = Number(/pid (\d+)/.exec(started.tool?.runtimeId ?? '')?.[1]);
    cleanups.push(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    });

    const next = await serveAgentRelease({ version: '9.9.9' });
    cleanups.push(() => next.close());
    const pin = { version: '9.9.9', url: next.pin.agentReleaseUrl, sha256: next.pin.agentReleaseSha256 };
    const running = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;
    const same = await peer.command({ commandType: 'update_agent', payload: { ...pin, version: running } });
    expect(same).toMatchObject({ status: 'done', duplicate: true });

    // Not the pinned release: nothing installed, the agent stays.
    const tampered = pin.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const wrong = await peer.command({ commandType: 'update_agent', payload: { ...pin, sha256: tampered } });
    expect(wrong.error?.code).toBe(AGENT_ERROR_CODES.updateFailed);
    expect(wrong.error?.reason).toContain(`has SHA-256 ${pin.sha256}, not the pinned ${tampered}`);
    // A release that is not the version asked for (the pin is right, the version is not).
    const mislabelled = await peer.command({ commandType: 'update_agent', payload: { ...pin, version: '9.9.8' } });
    expect(mislabelled.error?.reason).toContain('says it is version "9.9.9", not 9.9.8');
    const missing = await peer.command({ commandType: 'update_agent', payload: { ...pin, url: `${pin.url}.missing` } });
    expect(missing.error?.reason).toContain('answered 404');
    expect(existsSync(join(installDir, 'current'))).toBe(false);
    expect(existsSync(join(installDir, 'releases', '9.9.8'))).toBe(false);
    expect(agent.child.exitCode).toBeNull();

    const result = await peer.command({ commandType: 'update_agent', payload: pin });
    expect(result).toMatchObject({ status: 'done', message: 'installed 9.9.9; restarting' });
    expect(readlinkSync(join(installDir, 'current'))).toBe(join(installDir, 'releases', '9.9.9'));
    const installed = readFileSync(join(installDir, 'current', 'agent.mjs'));
    expect(createHash('sha256').update(installed).digest('hex')).toBe(pin.sha256);
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(alive(pid)).toBe(true);
  });
});

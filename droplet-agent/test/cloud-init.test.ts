import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  agentUnit,
  DROPLET_PATHS,
  extractAgentBootstrap,
  MAX_USER_DATA_BYTES,
  renderAgentUserData,
} from '@toolbelt/schema/cloud-init';
import { describeIf } from '@toolbelt/schema/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../src/config.ts';
import { DEPLOY_DIR, EXAMPLE_BOOTSTRAP } from '../scripts/render-deploy-examples.ts';
import { startAgentProcess, tempDir } from './helpers/agent-process.ts';
import { startTestPeer } from './helpers/peer.ts';
import { serveAgentRelease } from './helpers/release-server.ts';

const cloudInit = spawnSync('cloud-init', ['--version'], { stdio: 'ignore' }).status === 0;
const TOKEN = 'tok_' + 'a1'.repeat(20);
const SHA256 = 'ab'.repeat(32);
const options = {
  controllerUrl: 'wss://controller.example.com/agent/v1',
  enrollmentToken: TOKEN,
  agentVersion: '1.2.3',
  agentReleaseUrl: 'https://controller.example.com/agent/v1/releases/1.2.3/agent.mjs',
  agentReleaseSha256: SHA256,
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function validate(document: string): { ok: boolean; output: string } {
  const file = join(tempDir('toolbelt-userdata-'), 'user-data');
  writeFileSync(file, document);
  const result = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

describeIf(cloudInit, 'cloud-init is not installed: run scripts/install-container-engine.sh')('cloud-init validation', () => {
  it('accepts the rendered user_data', () => {
    const result = validate(renderAgentUserData(options));
    expect(result.output).toContain('Valid');
    expect(result.ok).toBe(true);
  });

  it('rejects a broken document (the validator can fail)', () => {
    const broken = renderAgentUserData(options).replace('"package_update": true', '"package_update": "yes please"');
    expect(validate(broken).ok).toBe(false);
  });
});

describe('agent bootstrap document', () => {
  it('stays under 64 KiB and carries the token only in the 0600 config file', () => {
    const document = renderAgentUserData(options);
    expect(Buffer.byteLength(document)).toBeLessThan(MAX_USER_DATA_BYTES);
    expect(document.split(TOKEN)).toHaveLength(2);
    const parsed = JSON.parse(document.slice(document.indexOf('\n') + 1));
    const configFile = parsed.write_files.find((f: { path: string }) => f.path === DROPLET_PATHS.config);
    expect(configFile.permissions).toBe('0600');
    expect(configFile.content).toContain(TOKEN);
  });

  it('round-trips: the extracted config is a valid agent config, the release is pinned and the command runs it with node', () => {
    const bootstrap = extractAgentBootstrap(renderAgentUserData(options))!;
    const config = parseAgentConfig(bootstrap.config);
    expect(config.controllerUrl).toBe(options.controllerUrl);
    expect(config.enrollmentToken).toBe(TOKEN);
    expect(config.stateDir).toBe(DROPLET_PATHS.stateDir);
    expect(bootstrap.command).toEqual([`${DROPLET_PATHS.node}/bin/node`, `${DROPLET_PATHS.installDir}/current/agent.mjs`, '--config', DROPLET_PATHS.config]);
    expect(bootstrap.release).toEqual({ version: '1.2.3', url: options.agentReleaseUrl, sha256: SHA256 });
    expect(bootstrap.files[DROPLET_PATHS.unit]).toBe(agentUnit());
    expect(agentUnit()).toMatch(/^Restart=always$/m);
    expect(agentUnit()).toMatch(/^KillMode=process$/m);
  });

  it('with a private CA, writes it and downloads the release trusting it; retries the download while the controller is away', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const bootstrap = extractAgentBootstrap(renderAgentUserData({ ...options, controllerCa: ca }))!;
    expect(bootstrap.files[DROPLET_PATHS.controllerCa]).toBe(ca);
    const download = bootstrap.files[DROPLET_PATHS.installScript]!.split('\n').find((l) => l.includes('"$RELEASE_URL"'))!;
    expect(download).toContain(`--cacert ${DROPLET_PATHS.controllerCa}`);
    expect(download).toMatch(/--retry-all-errors --retry-max-time 600\b/);
    const plain = extractAgentBootstrap(renderAgentUserData(options))!;
    expect(plain.files[DROPLET_PATHS.controllerCa]).toBeUndefined();
    expect(plain.files[DROPLET_PATHS.installScript]).not.toContain('--cacert');
  });

  it('refuses options that would make a bad or unsafe document', () => {
    expect(() => renderAgentUserData({ ...options, controllerUrl: 'ws://controller.example.com/agent/v1' })).toThrow(/wss/);
    expect(() => renderAgentUserData({ ...options, enrollmentToken: `${TOKEN}'\nrm -rf /` })).toThrow(/token/);
    expect(() => renderAgentUserData({ ...options, agentVersion: '1.0; reboot' })).toThrow(/version/);
    expect(() => renderAgentUserData({ ...options, agentReleaseUrl: "https://x.example/a'; reboot; '" })).toThrow(/agentReleaseUrl/);
    expect(() => renderAgentUserData({ ...options, agentReleaseSha256: 'abc' })).toThrow(/SHA-256/);
    expect(() => renderAgentUserData({ ...options, nodeDistUrl: 'https://mirror.example/$(reboot)"' })).toThrow(/nodeDistUrl/);
    expect(extractAgentBootstrap('#!/bin/sh\necho hi')).toBeUndefined();
    expect(extractAgentBootstrap('#cloud-config\n{ not json')).toBeUndefined();
  });

  it('matches the committed examples in deploy/ (regenerate with scripts/render-deploy-examples.ts)', () => {
    expect(readFileSync(join(DEPLOY_DIR, 'cloud-init/user-data.example.yaml'), 'utf8')).toBe(renderAgentUserData(EXAMPLE_BOOTSTRAP));
    expect(readFileSync(join(DEPLOY_DIR, 'systemd/toolbelt-agent.service'), 'utf8')).toBe(agentUnit());
  });

  it('boots a real agent from the document, as the simulator will (config + per-droplet state dir)', async () => {
    const peer = await startTestPeer();
    cleanups.push(() => peer.close());
    const release = await serveAgentRelease();
    cleanups.push(() => release.close());
    const bootstrap = extractAgentBootstrap(renderAgentUserData({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken, ...release.pin }))!;
    const agent = startAgentProcess({
      ...(bootstrap.config as { controllerUrl: string }),
      stateDir: tempDir('toolbelt-droplet-'),
      installDir: tempDir('toolbelt-droplet-install-'),
      npm: { command: 'npm' },
      runtimes: ['process'],
      instanceIdFile: '/nonexistent',
    });
    cleanups.push(() => agent.kill('SIGKILL'));
    const hello = await peer.waitFor('hello');
    expect(hello.agentVersion).toBe(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
    await peer.waitFor('credential_ack');
    expect(execFileSync('stat', ['-c', '%a', join(agent.stateDir, 'credential.json')]).toString().trim()).toBe('600');
  });
});

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderAgentUserData } from '@toolbelt/schema/cloud-init';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestPeer, type TestPeer } from '../../droplet-agent/test/helpers/peer.ts';
import { type ReleaseServer, serveAgentRelease } from '../../droplet-agent/test/helpers/release-server.ts';
import { createLocalDroplets, type LocalDroplets, type Simulator, startSimulator } from '../src/index.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ sim: Simulator; peer: TestPeer; local: LocalDroplets; root: string; release: ReleaseServer; lines: string[] }> {
  const root = mkdtempSync(join(tmpdir(), 'toolbelt-local-droplets-'));
  cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
  const peer = await startTestPeer();
  cleanups.push(() => peer.close());
  const release = await serveAgentRelease();
  cleanups.push(() => release.close());
  const lines: string[] = [];
  const local = createLocalDroplets({ root, log: (line) => lines.push(line) });
  cleanups.push(() => local.stopAll());
  const sim = await startSimulator({
    bootDelayMs: 50,
    actionDurationMs: 50,
    onBoot: (d) => local.onBoot(d),
    onDelete: (d) => local.onDelete(d),
    onStatusChange: (d, from) => local.onStatusChange(d, from),
    onRestart: (d) => local.onRestart(d),
  });
  cleanups.push(() => sim.close());
  return { sim, peer, local, root, release, lines };
}

async function api(sim: Simulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as { droplet: { id: number } }) };
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 300 && !check(); i += 1) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`gave up waiting for ${what}`);
}

describe('local droplets', () => {
  it('boot a real agent from user_data that knows its droplet, power it off, on and cycle it, and clean up on delete', async () => {
    const { sim, peer, local, release } = await setup();
    const userData = renderAgentUserData({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken, ...release.pin });
    const created = await api(sim, 'POST', '/droplets', {
      name: 'tb-local-1',
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      user_data: userData,
    });
    expect(created.status).toBe(202);
    const id = created.body!.droplet.id;

    const hello = await peer.waitFor('hello');
    expect(hello.droplet).toMatchObject({ hostname: 'tb-local-1', dropletId: id });
    expect(hello.agentVersion).toBe(release.pin.agentVersion);
    expect(local.running()).toEqual([id]);
    // It runs the release it downloaded through its user_data, with plain node: no tsx, no source.
    const argv = readFileSync(`/proc/${local.agentPid(id)}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv.slice(0, 2)).toEqual([process.execPath, join(local.dirOf(id), 'install', 'current', 'agent.mjs')]);
    expect(argv.join(' ')).not.toMatch(/tsx|\.ts\b/);
    expect(release.requests).toBe(1);

    expect((await api(sim, 'POST', `/droplets/${id}/actions`, { type: 'power_off' })).status).toBe(201);
    await until(() => local.running().length === 0, 'the agent to die with its droplet');
    const since = peer.mark();
    await until(() => sim.state.getDroplet(id)?.locked === false, 'the power-off to complete');
    expect((await api(sim, 'POST', `/droplets/${id}/actions`, { type: 'power_on' })).status).toBe(201);
    await peer.waitFor('hello', undefined, since);
    expect(local.running()).toEqual([id]);

    // A power cycle of the active droplet: the agent process is killed and started again.
    await until(() => sim.state.getDroplet(id)?.locked === false, 'the power-on to complete');
    const before = local.agentPid(id);
    const cycled = peer.mark();
    expect((await api(sim, 'POST', `/droplets/${id}/actions`, { type: 'power_cycle' })).status).toBe(201);
    await peer.waitFor('hello', undefined, cycled);
    expect(local.agentPid(id)).toBeDefined();
    expect(local.agentPid(id)).not.toBe(before);

    const dir = local.dirOf(id);
    expect(existsSync(dir)).toBe(true);
    expect((await api(sim, 'DELETE', `/droplets/${id}`)).status).toBe(204);
    await until(() => !existsSync(dir), 'the droplet directory to go');
    expect(local.running()).toEqual([]);
  });

  it('say their droplets answer at 127.0.0.1, and give their containers a scope no other instance shares', () => {
    const root = mkdtempSync(join(tmpdir(), 'toolbelt-local-droplets-'));
    cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
    const one = createLocalDroplets({ root });
    const two = createLocalDroplets({ root });
    expect(one.publicIpv4({ id: 500_000_001 })).toBe('127.0.0.1');
    // Every simulator counts droplet ids from the same first id: the scopes must still differ.
    expect(one.dockerScopeOf(500_000_001)).toBe(one.dockerScopeOf(500_000_001));
    expect(one.dockerScopeOf(500_000_001)).not.toBe(two.dockerScopeOf(500_000_001));
    expect(one.dockerScopeOf(500_000_001)).not.toBe(one.dockerScopeOf(500_000_002));
    for (const scope of [one.dockerScopeOf(500_000_001), two.dockerScopeOf(500_000_001)]) expect(scope).toMatch(/^[a-z0-9][a-z0-9-]{0,62}$/);
  });

  it('does not run a release whose SHA-256 is not the pinned one', async () => {
    const { sim, peer, local, release, lines } = await setup();
    const wrong = 'f'.repeat(64);
    const userData = renderAgentUserData({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken, ...release.pin, agentReleaseSha256: wrong });
    await api(sim, 'POST', '/droplets', { name: 'tb-tampered', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', user_data: userData });
    await until(() => lines.some((l) => l.includes('FAILED')), 'the install to refuse the release');
    expect(lines.find((l) => l.includes('FAILED'))).toMatch(new RegExp(`has SHA-256 [0-9a-f]{64}, not the pinned ${wrong}; not installing it`));
    expect(local.running()).toEqual([]);
    expect(peer.upgrades).toEqual([]);
  });

  it('ignores user_data that is not a toolbelt bootstrap', async () => {
    const lines: string[] = [];
    const root = mkdtempSync(join(tmpdir(), 'toolbelt-local-droplets-'));
    const local = createLocalDroplets({ root, log: (l) => lines.push(l) });
    const sim = await startSimulator({ bootDelayMs: 10, onBoot: (d) => local.onBoot(d) });
    cleanups.push(async () => rmSync(root, { recursive: true, force: true }), () => sim.close());
    await api(sim, 'POST', '/droplets', { name: 'plain', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', user_data: '#!/bin/sh\necho hi' });
    await until(() => lines.length > 0, 'the plug-in to report');
    expect(lines[0]).toMatch(/not a toolbelt bootstrap/);
    expect(local.running()).toEqual([]);
  });
});

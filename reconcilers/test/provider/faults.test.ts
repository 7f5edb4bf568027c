/**
 * Every fault the simulator injects, met by the provider over real HTTP: what is resent,
 * what is not (creates), what the caller is told, and adoption by identity after a lost
 * create answer.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { type Clock, createScaledClock } from '@toolbelt/schema';
import { type Simulator, startSimulator } from '@toolbelt/simulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Provider, ProviderError, createProvider, dropletNameFor, identityOf, identityTagsFor, indexFleet } from '../../src/index.ts';
import { expectNoLeakedSockets, openTcpHandles } from './net-helpers.ts';

const SHARED = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };

describe('provider under injected faults', () => {
  let clock: Clock;
  let sim: Simulator;
  let provider: Provider;
  const logs: { fields: Record<string, unknown>; message: string }[] = [];

  let baseline = 0;

  beforeAll(async () => {
    baseline = openTcpHandles();
    clock = createScaledClock(50);
    sim = await startSimulator({ clock, bootDelayMs: 1000, rateLimit: false, seed: 11 });
    provider = createProvider({
      token: sim.token,
      apiUrl: sim.url,
      clock,
      // Real milliseconds: a `timeout` fault never answers, a `delay` of 60 s simulated is 1.2 s.
      requestTimeoutMs: 400,
      maxRetries: 4,
      logger: { warn: (fields, message) => logs.push({ fields, message }) },
    });
  });
  afterAll(async () => {
    provider.close();
    await sim.close();
    await expectNoLeakedSockets(baseline);
  });
  afterEach(() => {
    sim.faults.clear();
    logs.length = 0;
  });

  const postCreates = () => sim.stats.calls('POST', '/v2/droplets');

  it.each([500, 502, 503, 504] as const)('resends a read after %i until it succeeds', async (status) => {
    sim.faults.add({ method: 'GET', path: '/v2/droplets', count: 2, fault: { kind: 'error', status } });
    const retriesBefore = provider.stats().retries;
    await expect(provider.listFleet('any-tag')).resolves.toEqual([]);
    expect(provider.stats().retries - retriesBefore).toBe(2);
    expect(logs).toHaveLength(2);
    expect(logs[0]!.fields).toMatchObject({ endpoint: 'GET /v2/droplets', status, kind: 'transient' });
    expect(JSON.stringify(logs)).not.toContain(sim.token);
  });

  it('gives up on a read after maxRetries and says transient, with DigitalOcean’s request id', async () => {
    sim.faults.add({ method: 'GET', path: '/v2/account', fault: { kind: 'error', status: 503 } });
    const error = await provider.getAccount().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: 'transient', status: 503, attempts: 5, code: 'DO_ERR_TRANSIENT', outcomeUnknown: false });
    expect((error as ProviderError).requestId).toBeTruthy();
  });

  it('never resends a create after a 5xx: outcome unknown', async () => {
    sim.faults.add({ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'error', status: 500 } });
    const before = postCreates();
    const error = await provider.createDroplet({ name: 'five-hundred', ...SHARED }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'transient', status: 500, attempts: 1, outcomeUnknown: true });
    expect(postCreates() - before).toBe(1);
  });

  it('lost create answer: reports unknown outcome, does not resend, and the fleet sweep adopts the droplet', async () => {
    const envId = randomUUID();
    const tags = identityTagsFor(envId, 'lost-answer');
    sim.faults.add({ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'loseAnswer' } });
    const before = postCreates();
    const error = await provider.createDroplet({ name: dropletNameFor(envId), ...SHARED, tags }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: 'transient', outcomeUnknown: true, attempts: 1, status: undefined });
    expect((error as ProviderError).describe()).toMatch(/may have .*adopt/);
    expect(inspect(error, { depth: 20 })).not.toContain(sim.token);
    expect(postCreates() - before).toBe(1);
    // What the lifecycle reconciler does next: one sweep, find by identity, adopt.
    const { byEnv } = indexFleet(await provider.listFleet('lost-answer'));
    expect(byEnv.get(envId)).toHaveLength(1);
    expect(sim.state.listDroplets().filter((d) => d.name === dropletNameFor(envId))).toHaveLength(1);
  });

  it('lost answer of a multi-create: the sweep finds all ten', async () => {
    const envIds = Array.from({ length: 10 }, () => randomUUID());
    sim.faults.add({ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'loseAnswer' } });
    const error = await provider.createDroplets(envIds.map(dropletNameFor), { ...SHARED, tags: ['lost-multi'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ outcomeUnknown: true, attempts: 1 });
    const found = (await provider.listFleet('lost-multi')).map(identityOf).sort();
    expect(found).toEqual([...envIds].sort());
  });

  it('dropped connection: a read is resent; a create is not, and nothing was created', async () => {
    sim.faults.add({ method: 'GET', path: '/v2/sizes', count: 1, fault: { kind: 'drop' } });
    expect((await provider.listSizes()).length).toBeGreaterThan(0);
    sim.faults.add({ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'drop' } });
    const before = postCreates();
    const error = await provider.createDroplet({ name: 'dropped-create', ...SHARED, tags: ['dropped'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'transient', outcomeUnknown: true, attempts: 1 });
    expect(postCreates() - before).toBe(1);
    expect(await provider.listFleet('dropped')).toEqual([]);
  });

  it('timeout (no answer ever): a read is resent after the request timeout', async () => {
    sim.faults.add({ method: 'GET', path: '/v2/regions', count: 2, fault: { kind: 'timeout' } });
    const regions = await provider.listRegions();
    expect(regions.length).toBeGreaterThan(0);
    const timeouts = provider.stats().byEndpoint.find((e) => e.endpoint === 'GET /v2/regions' && e.outcome === 'timeout');
    expect(timeouts?.count).toBe(2);
  });

  it('slow answer past the timeout on a create: outcome unknown, not resent, never a duplicate', async () => {
    sim.faults.add({ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'delay', ms: 60_000 } });
    const envId = randomUUID();
    const before = postCreates();
    const error = await provider.createDroplet({ name: dropletNameFor(envId), ...SHARED, tags: ['slow-create'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'transient', outcomeUnknown: true, attempts: 1 });
    expect((error as ProviderError).message).toMatch(/timeout/);
    await clock.sleep(61_000);
    expect(postCreates() - before).toBe(1);
    expect((await provider.listFleet('slow-create')).length).toBeLessThanOrEqual(1);
  });

  it('slow answer within the timeout is just slow', async () => {
    sim.faults.add({ method: 'GET', path: '/v2/account', count: 1, fault: { kind: 'delay', ms: 2_000 } });
    await expect(provider.getAccount()).resolves.toMatchObject({ dropletLimit: expect.any(Number) });
  });

  it('429 storm: waits retry-after (shared by all callers), then succeeds — creates included', async () => {
    sim.faults.add({ path: '/v2/', count: 3, fault: { kind: 'rateLimit', retryAfterSeconds: 5 } });
    const before = provider.stats();
    const started = clock.now();
    const [created, fleet] = await Promise.all([
      provider.createDroplets(['storm-1'], { ...SHARED, tags: ['storm'] }),
      provider.listFleet('storm'),
    ]);
    expect(created).toHaveLength(1);
    expect(fleet.length).toBeLessThanOrEqual(1);
    const after = provider.stats();
    expect(after.rateLimited - before.rateLimited).toBe(3);
    // Three 429s, each holding every caller for 5 simulated seconds.
    expect(clock.now() - started).toBeGreaterThanOrEqual(5_000);
    expect(sim.stats.calls('POST', '/v2/droplets')).toBeGreaterThan(0);
    expect(sim.state.listDroplets().filter((d) => d.name === 'storm-1')).toHaveLength(1);
  });

  it('a 429 storm longer than maxRetries ends in rate_limited', async () => {
    sim.faults.add({ method: 'GET', path: '/v2/images', fault: { kind: 'rateLimit', retryAfterSeconds: 1 } });
    const error = await provider.listImages().catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, attempts: 5, code: 'DO_ERR_RATE_LIMITED' });
  });

  it('lost answer of a delete: resent, and the second answer (404) means already gone', async () => {
    const [droplet] = await provider.createDroplets(['lost-delete'], SHARED);
    sim.faults.add({ method: 'DELETE', path: '/v2/droplets/', count: 1, fault: { kind: 'loseAnswer' } });
    expect(await provider.deleteDroplet(droplet!.id)).toBe('already_gone');
    expect(sim.state.getDroplet(droplet!.id)).toBeUndefined();
  });

  it('power_cycle is not resent after a lost answer; power_on is', async () => {
    const [droplet] = await provider.createDroplets(['power-faults'], { ...SHARED, tags: ['power-faults'] });
    await clock.sleep(3000);
    sim.faults.add({ method: 'POST', path: `/v2/droplets/${droplet!.id}/actions`, count: 1, fault: { kind: 'error', status: 502 } });
    const error = await provider.powerAction(droplet!.id, 'power_cycle').catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'transient', outcomeUnknown: true, attempts: 1 });
    sim.faults.add({ method: 'POST', path: `/v2/droplets/${droplet!.id}/actions`, count: 1, fault: { kind: 'error', status: 502 } });
    await expect(provider.powerAction(droplet!.id, 'power_off')).resolves.toMatchObject({ type: 'power_off' });
  });

});

describe('provider when nothing listens', () => {
  let port: number;

  beforeAll(async () => {
    // Take a free port and close it again: connections to it are refused.
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('resends even a create when the connection is refused (DigitalOcean never saw it)', async () => {
    const clock = createScaledClock(1000);
    const provider = createProvider({ token: 'dop_v1_test_token', apiUrl: `http://127.0.0.1:${port}/v2`, clock, maxRetries: 2 });
    try {
      const error = await provider.createDroplet({ name: 'refused', ...SHARED }).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'transient', attempts: 3, outcomeUnknown: false });
      expect((error as ProviderError).message).toMatch(/ECONNREFUSED/);
      expect(provider.stats().retries).toBe(2);
    } finally {
      provider.close();
    }
  });
});

describe('provider pointed at something that is not DigitalOcean', () => {
  it('never reads a 200 page without droplets as an empty fleet', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to the captive portal</body></html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const provider = createProvider({ token: 'dop_v1_test_token', apiUrl: `http://127.0.0.1:${port}/v2`, clock: createScaledClock(1000) });
    try {
      const error = await provider.listFleet('toolbelt').catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'unexpected', status: 200, code: 'DO_ERR_UNEXPECTED' });
      expect((error as ProviderError).hint).toMatch(/DIGITALOCEAN_API_URL/);
      const created = await provider.createDroplets(['portal-1'], SHARED).catch((e: unknown) => e);
      // The create may have happened somewhere: the caller must look before creating again.
      expect(created).toMatchObject({ kind: 'unexpected', outcomeUnknown: true });
    } finally {
      provider.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/**
 * Pacing against the simulator's rate limiter, shrunk so that the windows fill quickly:
 * the provider slows down before the simulator says no (zero 429s), measured on what went
 * over the wire (a recording proxy on the same clock).
 */
import { type Clock, createScaledClock } from '@toolbelt/schema';
import { type Simulator, startSimulator } from '@toolbelt/simulator';
import { createApiClient } from 'dots-wrapper';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Provider, createProvider } from '../../src/index.ts';
import { type RecordingProxy, expectNoLeakedSockets, maxInWindow, openTcpHandles, startRecordingProxy } from './net-helpers.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;

describe('pacing under shrunk rate limits', () => {
  let sim: Simulator | undefined;
  let proxy: RecordingProxy | undefined;
  let provider: Provider | undefined;

  let baseline = 0;

  beforeEach(() => {
    baseline = openTcpHandles();
  });
  afterEach(async () => {
    provider?.close();
    await proxy?.close();
    await sim?.close();
    provider = proxy = sim = undefined;
    await expectNoLeakedSockets(baseline);
  });

  async function setUp(clock: Clock, limits: { perHour: number; perMinute: number }) {
    sim = await startSimulator({ clock, rateLimit: limits, seed: 3 });
    proxy = await startRecordingProxy(sim.url, clock);
    provider = createProvider({ token: sim.token, apiUrl: proxy.url, clock, rateLimits: limits });
    return { sim, proxy, provider };
  }

  it('keeps every minute under 80 % of the burst limit with 100 concurrent callers: zero 429s', async () => {
    const clock = createScaledClock(300);
    const { sim, proxy, provider } = await setUp(clock, { perHour: 1000, perMinute: 20 });
    const results = await Promise.all(Array.from({ length: 100 }, () => provider.listFleet('paced')));
    expect(results.every((r) => r.length === 0)).toBe(true);
    expect(sim.stats.rateLimited).toBe(0);
    expect(provider.stats().rateLimited).toBe(0);
    expect(proxy.requests).toHaveLength(100);
    expect(maxInWindow(proxy.requests.map((r) => r.at), MINUTE)).toBeLessThanOrEqual(16);
    // The budget noticed: it would not have let a 17th request into the last minute.
    expect(provider.budget().minute.ceiling).toBe(16);
  });

  it('keeps the hour under 80 % of the hourly limit: zero 429s', async () => {
    const clock = createScaledClock(3000);
    const { sim, proxy, provider } = await setUp(clock, { perHour: 50, perMinute: 25 });
    for (let i = 0; i < 45; i += 1) await provider.getAccount();
    expect(sim.stats.rateLimited).toBe(0);
    const times = proxy.requests.map((r) => r.at);
    expect(maxInWindow(times, HOUR)).toBeLessThanOrEqual(40);
    // The 41st request had to wait for the first one to leave the hour.
    expect(times[40]! - times[0]!).toBeGreaterThanOrEqual(HOUR);
  });

  it('counts another client’s use of the token from the headers and stays clear of the limit', async () => {
    const clock = createScaledClock(3000);
    const { sim, provider } = await setUp(clock, { perHour: 50, perMinute: 50 });
    // Another client, unpaced, on the same token (what an operator's script would be).
    const other = createApiClient({ token: sim.token, endpoint: sim.url });
    for (let i = 0; i < 35; i += 1) await other.account.getAccount();
    await provider.getAccount();
    expect(provider.budget().external).toBe(35);
    expect(provider.budget().hour).toMatchObject({ used: 36, remaining: 4 });
    // 35 + 20 exceed the simulator's 50 an hour: only waiting for the hour avoids a 429.
    for (let i = 0; i < 19; i += 1) await provider.getAccount();
    expect(sim.stats.rateLimited).toBe(0);
    expect(sim.stats.total).toBe(55);
  });

  it('tells callers what the budget allows, for sizing batches', async () => {
    const clock = createScaledClock(300);
    const { provider } = await setUp(clock, { perHour: 1000, perMinute: 20 });
    expect(provider.budget().allowedNow).toBe(16);
    for (let i = 0; i < 6; i += 1) await provider.getAccount();
    const budget = provider.budget();
    expect(budget.allowedNow).toBe(10);
    expect(budget.server.remaining).toBe(994);
    expect(budget.hour).toMatchObject({ limit: 1000, ceiling: 800, used: 6 });
  });
});

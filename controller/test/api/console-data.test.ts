/**
 * What the console reads beside the resources: the host metrics history (one point a
 * minute, 24 hours, pruned), DigitalOcean's regions and sizes with prices (cached), and the
 * price and typical provisioning time on an agent's environment.
 */
import { type Clock, type HostMetrics, recordEvent } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DigitalOceanOptions } from '../../src/api/digitalocean-options.ts';
import { MetricsHistory } from '../../src/hub/metrics-history.ts';
import { startTestApi, type TestApi } from '../support/api.ts';

const metrics = (cpu: number): HostMetrics => ({
  cpuPercent: cpu,
  memoryUsedBytes: 1,
  memoryTotalBytes: 2,
  diskUsedBytes: 1,
  diskTotalBytes: 4,
  load1: 0.5,
  load5: 0.4,
  load15: 0.3,
  uptimeSeconds: 100,
});

function steppedClock(start: number): Clock & { set(ms: number): void } {
  let now = start;
  return { now: () => now, sleep: async () => {}, set: (ms) => void (now = ms) };
}

const SIZES = [
  { slug: 's-1vcpu-1gb', memoryMb: 1024, vcpus: 1, diskGb: 25, priceMonthly: 6, priceHourly: 0.00893, regions: ['nyc3'], available: true, description: 'Basic' },
];
const REGIONS = [{ slug: 'nyc3', name: 'New York 3', available: true, sizes: ['s-1vcpu-1gb'], features: [] }];

describeEachDatabase('API: console data (metrics history, DigitalOcean options, prices)', (t) => {
  let api: TestApi;
  let environmentId: string;
  let agentId: string;
  const provider = { calls: 0, listRegions: async () => (provider.calls++, REGIONS), listSizes: async () => (provider.calls++, SIZES) };
  beforeAll(async () => {
    api = await startTestApi(t);
    api.controller.api.digitalocean.bind(provider);
    const created = await api.call('POST', '/v1/agents', { body: { name: 'charted', environment: { active: true, region: 'nyc3', size: 's-1vcpu-1gb' } } });
    expect(created.status).toBe(201);
    agentId = created.body.id;
    environmentId = created.body.environment.id;
  });
  afterAll(() => api.stop());

  it('keeps one point a minute per environment, serves 24 hours oldest first, and prunes older points', async () => {
    const base = Date.now() - 26 * 3600_000;
    const clock = steppedClock(base);
    const history = new MetricsHistory({ db: t.db, clock, pruneEveryMs: 3600_000 });
    const beat = async (at: number, cpu: number) => {
      clock.set(at);
      await history.record([{ environmentId, at: new Date(at), agentVersion: '0.1.0', metrics: metrics(cpu) }]);
    };
    // 26 hours ago, then many beats in each of three recent minutes.
    await beat(base, 1);
    const recent = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
    for (let minute = 0; minute < 3; minute += 1) {
      for (let s = 0; s < 60; s += 15) await beat(recent + minute * 60_000 + s * 1000, 10 * (minute + 1) + s / 15);
    }
    const answer = await api.call('GET', '/v1/agents/charted/environment/metrics');
    expect(answer.status).toBe(200);
    expect(answer.body.interval_seconds).toBe(60);
    expect(answer.body.points.map((p: { at: string }) => p.at)).toEqual([0, 1, 2].map((m) => new Date(recent + m * 60_000).toISOString()));
    // The first heartbeat of each minute is its point.
    expect(answer.body.points.map((p: { metrics: HostMetrics }) => p.metrics.cpuPercent)).toEqual([10, 20, 30]);
    // The 26-hour-old point was pruned (the prune ran with the first recent write).
    const rows = (await t.db.execute(sql`select count(*)::int as n from host_metric_points`)) as unknown as { rows?: { n: number }[] } & { n: number }[];
    const count = Number((rows.rows ?? rows)[0]!.n);
    expect(count).toBe(3);
  });

  it('drops points of environments that no longer exist instead of failing the write', async () => {
    const history = new MetricsHistory({ db: t.db, clock: steppedClock(Date.now()) });
    await expect(history.record([{ environmentId: '00000000-0000-4000-8000-000000000000', at: new Date(), agentVersion: '0.1.0', metrics: metrics(5) }])).resolves.toBeUndefined();
  });

  it("serves DigitalOcean's regions and sizes with prices, fetched once per cache period", async () => {
    const before = provider.calls;
    const first = await api.call('GET', '/v1/digitalocean/options');
    const second = await api.call('GET', '/v1/digitalocean/options');
    expect(first.status).toBe(200);
    expect(first.body.available).toBe(true);
    expect(first.body.sizes[0]).toMatchObject({ slug: 's-1vcpu-1gb', price_monthly: 6, price_hourly: 0.00893, memory_mb: 1024 });
    expect(first.body.regions[0]).toMatchObject({ slug: 'nyc3', name: 'New York 3' });
    expect(second.body).toEqual(first.body);
    expect(provider.calls - before).toBeLessThanOrEqual(2);
  });

  it('answers empty lists, not an error, when no provider is bound', async () => {
    const options = new DigitalOceanOptions({ clock: steppedClock(0) });
    expect(await options.offer()).toBeUndefined();
    expect(await options.priceOf('s-1vcpu-1gb')).toBeNull();
  });

  it("puts the size's price and the fleet's median create→Ready time on the environment", async () => {
    const none = await api.call('GET', '/v1/agents/charted/environment');
    expect(none.body.price).toEqual({ monthly: 6, hourly: 0.00893, currency: 'USD' });
    expect(none.body.typical_provisioning).toEqual({ median_seconds: null, samples: 0 });
    const object = { kind: 'environment', id: agentId };
    const t0 = Date.now() - 3600_000;
    // Three environments that took 30, 60 and 200 seconds: the median is 60.
    for (const [i, seconds] of [30, 60, 200].entries()) {
      const o = i === 0 ? object : { kind: 'environment', id: `00000000-0000-4000-8000-00000000000${i}` };
      await recordEvent(t.db, { type: 'Normal', reason: 'Creating', message: `creating ${i}`, object: o, at: new Date(t0 + i * 1000) });
      await recordEvent(t.db, { type: 'Normal', reason: 'Ready', message: `ready ${i}`, object: o, at: new Date(t0 + i * 1000 + seconds * 1000) });
    }
    const answer = await api.call('GET', '/v1/agents/charted/environment');
    expect(answer.body.typical_provisioning).toEqual({ median_seconds: 60, samples: 3 });
  });
});

import { createManualClock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { describe, expect, it } from 'vitest';
import { startSimulator } from '../src/index.ts';
import { client, dropletBody, simulatorFixture, turns } from './helpers.ts';

const start = simulatorFixture();

describe('injected faults', () => {
  it('answers 500 or 503 for matching requests, a given number of times', async () => {
    const sim = await start({ faults: [{ method: 'GET', path: '/v2/regions', count: 2, fault: { kind: 'error', status: 503 } }] });
    const api = client(sim);
    const first = await api.get('/regions');
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ id: 'service_unavailable', request_id: expect.any(String) });
    expect((await api.get('/sizes')).status).toBe(200);
    expect((await api.get('/regions')).status).toBe(503);
    expect((await api.get('/regions')).status).toBe(200);
    expect(sim.faults.list()).toEqual([]);

    const id = sim.faults.add({ path: /^\/v2\/sizes/, fault: { kind: 'error' } });
    expect((await api.get('/sizes')).status).toBe(500);
    expect((await api.get('/sizes')).body.id).toBe('server_error');
    expect(sim.faults.remove(id)).toBe(true);
    expect((await api.get('/sizes')).status).toBe(200);
    expect(sim.stats.requests['GET /v2/sizes 500']).toBe(2);
  });

  it('hits a share of requests by rate (seeded), never at rate 0', async () => {
    const sim = await start({ seed: 42, faults: [{ path: '/v2/account', rate: 0, fault: { kind: 'error' } }] });
    const api = client(sim);
    for (let i = 0; i < 20; i += 1) expect((await api.get('/account')).status).toBe(200);
    sim.faults.clear();
    sim.faults.add({ path: '/v2/account', rate: 0.5, fault: { kind: 'error' } });
    const statuses: number[] = [];
    for (let i = 0; i < 100; i += 1) statuses.push((await api.get('/account')).status);
    const failures = statuses.filter((s) => s === 500).length;
    expect(failures).toBeGreaterThan(25);
    expect(failures).toBeLessThan(75);
  });

  it('answers 429 storms with retry-after', async () => {
    const sim = await start({ rateLimit: { perHour: 5000, perMinute: 250 } });
    sim.faults.add({ method: 'GET', path: '/v2/droplets', count: 3, fault: { kind: 'rateLimit', retryAfterSeconds: 7 } });
    const api = client(sim);
    for (let i = 0; i < 3; i += 1) {
      const reply = await api.get('/droplets?tag_name=x');
      expect(reply.status).toBe(429);
      expect(reply.body).toEqual({ id: 'too_many_requests', message: 'API Rate limit exceeded.' });
      expect(reply.headers.get('retry-after')).toBe('7');
      expect(reply.headers.get('ratelimit-remaining')).toBe('0');
    }
    expect((await api.get('/droplets')).status).toBe(200);
    expect(sim.stats.rateLimited).toBe(3);
  });

  it('delays answers by simulated time', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, faults: [{ path: '/v2/account', fault: { kind: 'delay', ms: 5000 } }] });
    const api = client(sim);
    let answered = false;
    const slow = api.get('/account').then((reply) => {
      answered = true;
      return reply;
    });
    expect((await api.get('/regions')).status).toBe(200);
    await turns();
    expect(answered).toBe(false);
    await clock.advance(5000);
    expect((await slow).status).toBe(200);
  });

  it('never answers a timed-out request (the client gives up), and closes it on close()', async () => {
    const sim = await start({ faults: [{ path: '/v2/account', count: 1, fault: { kind: 'timeout' } }] });
    const api = client(sim);
    const controller = new AbortController();
    const hanging = api.get('/account', { signal: controller.signal });
    expect((await api.get('/regions')).status).toBe(200);
    await turns();
    controller.abort();
    await expect(hanging).rejects.toThrow(/abort/i);
    expect(sim.stats.requests['GET /v2/account timeout']).toBe(1);

    sim.faults.add({ path: '/v2/sizes', fault: { kind: 'timeout' } });
    const orphan = api.get('/sizes');
    await turns();
    await sim.close();
    await expect(orphan).rejects.toThrow();
  });

  it('drops connections without handling the request', async () => {
    const sim = await start({ faults: [{ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'drop' } }] });
    const api = client(sim);
    await expect(api.post('/droplets', dropletBody('dropped'))).rejects.toThrow(/fetch failed/);
    expect(sim.state.listDroplets()).toEqual([]);
    expect(sim.stats.requests['POST /v2/droplets dropped']).toBe(1);
  });

  it('loses the answer of a create that succeeded: the droplets exist', async () => {
    const sim = await start({ faults: [{ method: 'POST', path: '/v2/droplets', count: 1, fault: { kind: 'loseAnswer' } }] });
    const api = client(sim);
    const body = { ...dropletBody('x'), name: undefined, names: ['lost-1', 'lost-2'], tags: ['env-7'] };
    await expect(api.post('/droplets', body)).rejects.toThrow(/fetch failed/);
    const found = await api.get('/droplets?tag_name=env-7');
    expect(found.body.droplets.map((d: { name: string }) => d.name)).toEqual(['lost-1', 'lost-2']);
    expect(sim.stats.requests['POST /v2/droplets lost']).toBe(1);
    expect((await api.post('/droplets', dropletBody('after'))).status).toBe(202);
  });

  it('lets a droplet vanish behind the controller’s back', async () => {
    const deleted: string[] = [];
    const sim = await start({ onDelete: (d) => void deleted.push(d.name) });
    const api = client(sim);
    const id = (await api.post('/droplets', dropletBody('ghost', { tags: ['fleet'] }))).body.droplet.id;
    expect(sim.state.vanish(id)).toBe(true);
    expect((await api.get(`/droplets/${id}`)).status).toBe(404);
    expect((await api.get('/droplets?tag_name=fleet')).body.meta.total).toBe(0);
    expect(deleted).toEqual(['ghost']);
    expect(sim.state.vanish(id)).toBe(false);
  });

  it('holds droplets in new (by id or predicate) until released', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, bootDelayMs: 1000 });
    const api = client(sim);
    sim.state.holdInNew((d) => d.name.startsWith('stuck-'));
    const stuck = (await api.post('/droplets', dropletBody('stuck-1'))).body.droplet.id;
    const fine = (await api.post('/droplets', dropletBody('fine-1'))).body.droplet.id;
    const held = (await api.post('/droplets', dropletBody('held-1'))).body.droplet.id;
    expect(sim.state.holdInNew(held)).toBe(true);
    await clock.advance(60 * 60_000);
    expect((await api.get(`/droplets/${stuck}`)).body.droplet.status).toBe('new');
    expect((await api.get(`/droplets/${held}`)).body.droplet.status).toBe('new');
    expect((await api.get(`/droplets/${fine}`)).body.droplet.status).toBe('active');
    expect(sim.state.holdInNew(fine)).toBe(false);
    expect(sim.state.release(held)).toBe(true);
    expect((await api.get(`/droplets/${held}`)).body.droplet.status).toBe('active');
    sim.state.releaseAll();
    expect((await api.get(`/droplets/${stuck}`)).body.droplet.status).toBe('active');
    const later = (await api.post('/droplets', dropletBody('stuck-2'))).body.droplet.id;
    await clock.advance(1000);
    expect(sim.state.getDroplet(later)!.status).toBe('active');
  });

  it('refuses bad fault rules and bad options with clear errors', async () => {
    const sim = await start();
    expect(() => sim.faults.add({ rate: 2, fault: { kind: 'error' } })).toThrow(/rate/);
    expect(() => sim.faults.add({ fault: { kind: 'explode' } as never })).toThrow(/fault.kind/);
    expect(() => sim.faults.add({ count: -1, fault: { kind: 'drop' } })).toThrow(/count/);
    await expect(startSimulator({ bootDelayMs: { minMs: 5, maxMs: 1 } })).rejects.toThrow(ToolbeltError);
    await expect(startSimulator({ rateLimit: { perHour: 10, perMinute: 20 } })).rejects.toThrow(/rateLimit/);
    await expect(startSimulator({ port: 70000 })).rejects.toThrow(/port/);
    await expect(startSimulator({ token: 'short' })).rejects.toThrow(/token/);
    await expect(startSimulator({ faults: [{ fault: { kind: 'delay', ms: -1 } }] })).rejects.toThrow(/faults\[0\]/);
    expect(() => sim.state.setStatus(1, 'exploded' as never)).toThrow(/unknown droplet status/);
  });
});

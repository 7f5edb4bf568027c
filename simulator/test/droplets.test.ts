import { createManualClock } from '@toolbelt/schema/clock';
import { describe, expect, it } from 'vitest';
import { client, dropletBody, simulatorFixture } from './helpers.ts';

const start = simulatorFixture();

describe('droplets', () => {
  it('boots after the configured delay, measured on the simulator clock', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, bootDelayMs: 30_000 });
    const api = client(sim);
    const created = await api.post('/droplets', dropletBody('web-1'), { validRequest: true });
    expect(created.status).toBe(202);
    const id = created.body.droplet.id as number;
    expect(created.body.droplet.status).toBe('new');
    expect(created.body.droplet.networks.v4).toEqual([]);
    expect(created.body.links.actions[0]).toMatchObject({ rel: 'create', href: `${sim.url}/actions/${created.body.links.actions[0].id}` });

    await clock.advance(29_999);
    expect((await api.get(`/droplets/${id}`)).body.droplet.status).toBe('new');
    await clock.advance(1);
    const active = (await api.get(`/droplets/${id}`)).body.droplet;
    expect(active.status).toBe('active');
    const v4 = active.networks.v4 as { type: string; ip_address: string }[];
    expect(v4.map((n) => n.type).sort()).toEqual(['private', 'public']);
    expect(v4.find((n) => n.type === 'public')!.ip_address).toMatch(/^127\./);
    const action = (await api.get(`/actions/${created.body.links.actions[0].id}`)).body.action;
    expect(action).toMatchObject({ type: 'create', status: 'completed', resource_id: id });
  });

  it('draws boot delays uniformly from {minMs, maxMs}', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, bootDelayMs: { minMs: 1000, maxMs: 5000 }, seed: 7 });
    const api = client(sim);
    const names = Array.from({ length: 10 }, (_, i) => `n-${i}`);
    await api.post('/droplets', { ...dropletBody('x'), name: undefined, names }, { validRequest: true });
    const delays = sim.state.listDroplets().map((d) => d.bootAt - d.createdAt);
    expect(delays.every((d) => d >= 1000 && d <= 5000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(1);
    await clock.advance(999);
    expect(sim.state.listDroplets().filter((d) => d.status === 'active')).toHaveLength(0);
    await clock.advance(4001);
    expect(sim.state.listDroplets().filter((d) => d.status === 'active')).toHaveLength(10);
  });

  it('creates up to 10 droplets from names and refuses 11', async () => {
    const sim = await start();
    const api = client(sim);
    const names = Array.from({ length: 10 }, (_, i) => `batch-${i}`);
    const body = { names, region: 'ams3', size: 's-1vcpu-1gb', image: 'debian-12-x64', tags: ['fleet'] };
    const created = await api.post('/droplets', body, { validRequest: true });
    expect(created.status).toBe(202);
    expect(created.body.droplets.map((d: { name: string }) => d.name)).toEqual(names);
    expect(created.body.links.actions).toHaveLength(10);
    const tooMany = await api.post('/droplets', { ...body, names: [...names, 'batch-10'] });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.id).toBe('unprocessable_entity');
    expect(sim.state.listDroplets()).toHaveLength(10);
  });

  it('answers 422 for bad create bodies and creates nothing', async () => {
    const sim = await start();
    const api = client(sim);
    const bad: [Record<string, unknown> | string, RegExp][] = [
      [{ ...dropletBody('a'), size: 'huge' }, /invalid size/],
      [{ ...dropletBody('a'), image: 'windows-xp' }, /invalid image/],
      [{ ...dropletBody('a'), region: 'mars1' }, /invalid region/],
      [{ ...dropletBody('a'), tags: ['bad tag'] }, /invalid characters/],
      [{ ...dropletBody('a'), user_data: 'x'.repeat(64 * 1024 + 1) }, /64 KiB/],
      [{ ...dropletBody('a'), names: ['b'] }, /either name/],
      [{ region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' }, /either name/],
      [dropletBody('-bad-'), /not valid/],
      [{ ...dropletBody('a'), ssh_keys: [{}] }, /ssh_keys/],
      [{ ...dropletBody('a'), ipv6: 'yes' }, /ipv6/],
    ];
    for (const [body, message] of bad) {
      const reply = await api.post('/droplets', body);
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(reply.body.message).toMatch(message);
      expect(reply.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const notJson = await api.post('/droplets', '{"name": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.id).toBe('bad_request');
    expect(sim.state.listDroplets()).toHaveLength(0);
  });

  it('accepts exactly 64 KiB of user_data and keeps it', async () => {
    const sim = await start();
    const userData = `#cloud-config\n${'#'.repeat(64 * 1024 - 14)}`;
    expect(Buffer.byteLength(userData)).toBe(64 * 1024);
    const reply = await client(sim).post('/droplets', dropletBody('big', { user_data: userData }), { validRequest: true });
    expect(reply.status).toBe(202);
    expect(sim.state.getDroplet(reply.body.droplet.id)!.userData).toBe(userData);
  });

  it('places a droplet by region prefix, or anywhere without a region', async () => {
    const sim = await start();
    const api = client(sim);
    expect((await api.post('/droplets', dropletBody('p', { region: 'sfo' }))).body.droplet.region.slug).toMatch(/^sfo\d$/);
    const anywhere = { name: 'q', size: 's-1vcpu-1gb', image: 171520001 };
    const reply = await api.post('/droplets', anywhere, { validRequest: true });
    expect(reply.status).toBe(202);
    expect(reply.body.droplet.image.slug).toBe('ubuntu-24-04-x64');
  });

  it('pages lists with per_page (default 20, max 200), links and meta.total', async () => {
    const sim = await start();
    const api = client(sim);
    for (let i = 0; i < 25; i += 1) {
      const names = Array.from({ length: 10 }, (_, j) => `p-${i}-${j}`);
      expect((await api.post('/droplets', { ...dropletBody('x'), name: undefined, names })).status).toBe(202);
    }
    const first = await api.get('/droplets');
    expect(first.body.droplets).toHaveLength(20);
    expect(first.body.meta.total).toBe(250);
    expect(Object.keys(first.body.links.pages).sort()).toEqual(['last', 'next']);
    expect(new URL(first.body.links.pages.last).searchParams.get('page')).toBe('13');

    const big = await api.get('/droplets?per_page=500');
    expect(big.body.droplets).toHaveLength(200);
    const last = await api.get(new URL(big.body.links.pages.next).pathname.replace('/v2', '') + new URL(big.body.links.pages.next).search);
    expect(last.body.droplets).toHaveLength(50);
    expect(Object.keys(last.body.links.pages).sort()).toEqual(['first', 'prev']);

    const all = [...big.body.droplets, ...last.body.droplets].map((d: { id: number }) => d.id);
    expect(new Set(all).size).toBe(250);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect((await api.get('/droplets?page=99')).body.droplets).toEqual([]);
    expect((await api.get('/droplets?per_page=300&page=2')).body.links.pages.prev).toContain('per_page=200');
  });

  it('filters by tag_name and by name, and returns no links for a single page', async () => {
    const sim = await start();
    const api = client(sim);
    await api.post('/droplets', dropletBody('a1', { tags: ['team:a', 'fleet'] }));
    await api.post('/droplets', dropletBody('b1', { tags: ['team:b', 'fleet'] }));
    await api.post('/droplets', dropletBody('a2', { tags: ['team:a'] }));
    const a = await api.get('/droplets?tag_name=team:a');
    expect(a.body.droplets.map((d: { name: string }) => d.name)).toEqual(['a1', 'a2']);
    expect(a.body.links).toEqual({});
    expect((await api.get('/droplets?tag_name=fleet')).body.meta.total).toBe(2);
    expect((await api.get('/droplets?tag_name=nobody')).body).toMatchObject({ droplets: [], meta: { total: 0 } });
    expect((await api.get('/droplets?name=B1')).body.droplets.map((d: { name: string }) => d.name)).toEqual(['b1']);
    expect((await api.get('/droplets?name=a1&tag_name=fleet')).status).toBe(422);
  });

  it('deletes one droplet, and every droplet with a tag', async () => {
    const deleted: number[] = [];
    const sim = await start({ onDelete: (d) => void deleted.push(d.id) });
    const api = client(sim);
    const one = (await api.post('/droplets', dropletBody('solo'))).body.droplet.id;
    await api.post('/droplets', { ...dropletBody('x'), name: undefined, names: ['t1', 't2', 't3'], tags: ['doomed'] });
    await api.post('/droplets', dropletBody('keep', { tags: ['kept'] }));

    expect((await api.del(`/droplets/${one}`)).status).toBe(204);
    expect((await api.get(`/droplets/${one}`)).status).toBe(404);
    expect((await api.del(`/droplets/${one}`)).status).toBe(404);
    expect((await api.del('/droplets?tag_name=doomed')).status).toBe(204);
    expect((await api.get('/droplets?tag_name=doomed')).body.meta.total).toBe(0);
    expect(sim.state.listDroplets().map((d) => d.name)).toEqual(['keep']);
    expect(deleted).toHaveLength(4);
    expect((await api.del('/droplets')).status).toBe(422);
  });

  it('answers 404 with DigitalOcean’s error body for unknown droplets and paths', async () => {
    const sim = await start();
    const api = client(sim);
    for (const path of ['/droplets/123', '/droplets/abc', '/actions/5']) {
      const reply = await api.get(path);
      expect(reply.status).toBe(404);
      expect(reply.body).toMatchObject({ id: 'not_found', message: expect.any(String), request_id: expect.any(String) });
    }
    expect((await api.get('/nothing-here')).status).toBe(404);
    const wrongMethod = await api.call('PATCH', '/droplets');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('GET');
  });

  it('refuses creates beyond the droplet limit with DigitalOcean’s message', async () => {
    const sim = await start({ dropletLimit: 3 });
    const api = client(sim);
    expect((await api.get('/account')).body.account.droplet_limit).toBe(3);
    await api.post('/droplets', { ...dropletBody('x'), name: undefined, names: ['l1', 'l2'] });
    const over = await api.post('/droplets', { ...dropletBody('x'), name: undefined, names: ['l3', 'l4'] });
    expect(over.status).toBe(422);
    expect(over.body.message).toBe('creating this/these droplet(s) will exceed your droplet limit');
    expect(sim.state.listDroplets()).toHaveLength(2);
    expect((await api.post('/droplets', dropletBody('l3'))).status).toBe(202);
    sim.state.setDropletLimit(10);
    expect((await api.post('/droplets', dropletBody('l4'))).status).toBe(202);
    expect(() => sim.state.setDropletLimit(-1)).toThrow(/whole number/);
  });
});

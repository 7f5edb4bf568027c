import { describe, expect, it } from 'vitest';
import { client, dropletBody, simulatorFixture } from './helpers.ts';

const start = simulatorFixture();

const rules = {
  inbound_rules: [{ protocol: 'tcp', ports: '22', sources: { addresses: ['203.0.113.0/24'] } }],
  outbound_rules: [{ protocol: 'tcp', ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } }],
};

describe('tags', () => {
  it('creates (idempotently), tags and untags droplets, lists, and deletes', async () => {
    const sim = await start();
    const api = client(sim);
    const id = (await api.post('/droplets', dropletBody('tagged', { tags: ['auto'] }))).body.droplet.id;
    const created = await api.post('/tags', { name: 'env:prod' }, { validRequest: true });
    expect(created.status).toBe(201);
    expect(created.body.tag).toMatchObject({ name: 'env:prod', resources: { count: 0 } });
    expect((await api.post('/tags', { name: 'env:prod' })).status).toBe(201);

    const resources = { resources: [{ resource_id: String(id), resource_type: 'droplet' }] };
    expect((await api.post('/tags/env:prod/resources', resources, { validRequest: true })).status).toBe(204);
    const tag = (await api.get('/tags/env:prod')).body.tag;
    expect(tag.resources.droplets).toEqual({ count: 1, last_tagged_uri: `${sim.url}/droplets/${id}` });
    expect((await api.get(`/droplets/${id}`)).body.droplet.tags).toEqual(['auto', 'env:prod']);
    expect((await api.get('/tags')).body.tags.map((t: { name: string }) => t.name)).toEqual(['auto', 'env:prod']);

    expect((await api.del('/tags/env:prod/resources', resources, { validRequest: true })).status).toBe(204);
    expect((await api.get('/droplets?tag_name=env:prod')).body.meta.total).toBe(0);
    expect((await api.del('/tags/auto')).status).toBe(204);
    expect((await api.get(`/droplets/${id}`)).body.droplet.tags).toEqual([]);
    expect((await api.get('/tags/auto')).status).toBe(404);
  });

  it('refuses bad tag names, unknown tags and unknown droplets', async () => {
    const sim = await start();
    const api = client(sim);
    expect((await api.post('/tags', { name: 'has space' })).status).toBe(422);
    expect((await api.post('/tags', { name: 'x'.repeat(256) })).status).toBe(422);
    const resources = { resources: [{ resource_id: '42', resource_type: 'droplet' }] };
    expect((await api.post('/tags/missing/resources', resources)).status).toBe(404);
    await api.post('/tags', { name: 'real' });
    expect((await api.post('/tags/real/resources', resources)).status).toBe(404);
    expect((await api.post('/tags/real/resources', { resources: [{ resource_id: '1', resource_type: 'volume' }] })).status).toBe(422);
  });
});

describe('firewalls', () => {
  it('creates, gets, lists, updates and deletes a firewall', async () => {
    const sim = await start();
    const api = client(sim);
    const droplet = (await api.post('/droplets', dropletBody('fw-1'))).body.droplet.id;
    const body = { name: 'toolbelt-agents', droplet_ids: [droplet], tags: ['toolbelt'], ...rules };
    const created = await api.post('/firewalls', body, { validRequest: true });
    expect(created.status).toBe(202);
    const fw = created.body.firewall;
    expect(fw.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fw.outbound_rules[0].ports).toBe('0');
    expect((await api.get(`/firewalls/${fw.id}`)).body.firewall).toEqual(fw);
    expect((await api.get('/firewalls')).body.meta.total).toBe(1);

    const update = { name: 'renamed', inbound_rules: [{ protocol: 'icmp', sources: { tags: ['ops'] } }] };
    const updated = await api.put(`/firewalls/${fw.id}`, update);
    expect(updated.status).toBe(200);
    expect(updated.body.firewall).toMatchObject({ name: 'renamed', droplet_ids: [], tags: [], outbound_rules: [] });
    expect(updated.body.firewall.inbound_rules).toEqual([{ protocol: 'icmp', ports: '0', sources: { tags: ['ops'] } }]);

    expect((await api.del(`/firewalls/${fw.id}`)).status).toBe(204);
    expect((await api.get(`/firewalls/${fw.id}`)).status).toBe(404);
  });

  it('adds and removes droplets, tags and rules; a deleted droplet leaves the firewall', async () => {
    const sim = await start();
    const api = client(sim);
    const a = (await api.post('/droplets', dropletBody('fa'))).body.droplet.id;
    const b = (await api.post('/droplets', dropletBody('fb'))).body.droplet.id;
    const fw = (await api.post('/firewalls', { name: 'fw', ...rules })).body.firewall.id;
    const get = async () => (await api.get(`/firewalls/${fw}`)).body.firewall;

    expect((await api.post(`/firewalls/${fw}/droplets`, { droplet_ids: [a, b] }, { validRequest: true })).status).toBe(204);
    expect((await api.del(`/firewalls/${fw}/droplets`, { droplet_ids: [a] }, { validRequest: true })).status).toBe(204);
    expect((await get()).droplet_ids).toEqual([b]);
    await api.del(`/droplets/${b}`);
    expect((await get()).droplet_ids).toEqual([]);

    expect((await api.post(`/firewalls/${fw}/tags`, { tags: ['x', 'y'] }, { validRequest: true })).status).toBe(204);
    expect((await api.del(`/firewalls/${fw}/tags`, { tags: ['x'] }, { validRequest: true })).status).toBe(204);
    expect((await get()).tags).toEqual(['y']);

    const extra = { inbound_rules: [{ protocol: 'tcp', ports: '8000-9000', sources: { droplet_ids: [a] } }] };
    expect((await api.post(`/firewalls/${fw}/rules`, extra, { validRequest: true })).status).toBe(204);
    expect((await api.post(`/firewalls/${fw}/rules`, extra)).status).toBe(204);
    expect((await get()).inbound_rules).toHaveLength(2);
    expect((await api.del(`/firewalls/${fw}/rules`, extra, { validRequest: true })).status).toBe(204);
    expect((await get()).inbound_rules).toEqual(rules.inbound_rules);
  });

  it('answers 422 for bad firewalls and changes nothing', async () => {
    const sim = await start();
    const api = client(sim);
    const bad = [
      { name: 'x', ...rules },
      { name: 'no-rules' },
      { name: 'fw', inbound_rules: [{ protocol: 'sctp', ports: '22', sources: { addresses: ['0.0.0.0/0'] } }] },
      { name: 'fw', inbound_rules: [{ protocol: 'tcp', ports: '70000', sources: { addresses: ['0.0.0.0/0'] } }] },
      { name: 'fw', inbound_rules: [{ protocol: 'tcp', ports: '22', sources: [{ addresses: ['0.0.0.0/0'] }] }] },
      { name: 'fw', inbound_rules: [{ protocol: 'tcp', ports: '22', sources: {} }] },
      { name: 'fw', inbound_rules: [{ protocol: 'tcp', ports: '22', sources: { addresses: ['not-an-ip'] } }] },
      { name: 'fw', droplet_ids: [12345], ...rules },
    ];
    for (const body of bad) {
      const reply = await api.post('/firewalls', body);
      expect(reply.status, JSON.stringify(body)).toBe(422);
    }
    expect((await api.get('/firewalls')).body.meta.total).toBe(0);
    expect((await api.post('/firewalls/nope/droplets', { droplet_ids: [] })).status).toBe(404);
  });
});

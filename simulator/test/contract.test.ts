/**
 * The contract test: every implemented path and status, answers validated against the
 * response schema DigitalOcean's OpenAPI document gives for that path, method and status
 * (the client in helpers.ts does the validating), request bodies against request schemas.
 */
import { createManualClock } from '@toolbelt/schema/clock';
import { describe, expect, it } from 'vitest';
import { digitalOceanContract, validateRequest, validateResponse } from '../src/contract.ts';
import { createRouter } from '../src/index.ts';
import { client, dropletBody, seen, simulatorFixture } from './helpers.ts';

const start = simulatorFixture();
const routes = createRouter().routes();

const rules = {
  inbound_rules: [{ protocol: 'tcp', ports: '443', sources: { addresses: ['0.0.0.0/0'] } }],
  outbound_rules: [{ protocol: 'udp', ports: '53', destinations: { addresses: ['0.0.0.0/0'] } }],
};

/** Concrete paths for each template, given ids that exist (or not). */
function pathFor(template: string, ids: { droplet: string; action: string; tag: string; firewall: string; image: string }): string {
  return template
    .replace('/v2', '')
    .replace('{droplet_id}', ids.droplet)
    .replace('{action_id}', ids.action)
    .replace('{tag_id}', ids.tag)
    .replace('{firewall_id}', ids.firewall)
    .replace('{image_id}', ids.image);
}

describe('contract with DigitalOcean’s OpenAPI document', () => {
  it('every implemented route is in the document', () => {
    const contract = digitalOceanContract();
    for (const route of routes) {
      expect(contract.pathTemplateOf(route.template.replace(/\{[a-z_]+\}/g, '1')), route.template).toBeDefined();
      expect(() => contract.validateResponse(route.method, route.template, 200, undefined)).not.toThrow();
    }
  });

  it('answers every route successfully with documented bodies', async () => {
    const clock = createManualClock();
    const sim = await start({ clock, bootDelayMs: 1000, actionDurationMs: 1000 });
    const api = client(sim);
    const valid = { validRequest: true };
    const single = await api.post('/droplets', dropletBody('c-1', { tags: ['contract'], user_data: '#cloud-config\n', ipv6: true, monitoring: true, backups: true, ssh_keys: [123, 'aa:bb'] }), valid);
    const multi = await api.post('/droplets', { names: ['c-2', 'c-3'], region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['contract'] }, valid);
    expect([single.status, multi.status]).toEqual([202, 202]);
    const id = single.body.droplet.id as number;
    await clock.advance(1000);
    expect((await api.get(`/droplets/${id}`)).body.droplet.networks.v6).toHaveLength(1);
    const action = (await api.post(`/droplets/${id}/actions`, { type: 'power_off' }, valid)).body.action.id as number;
    await api.post('/tags', { name: 'contract-extra' }, valid);
    const resources = { resources: [{ resource_id: String(id), resource_type: 'droplet' }] };
    const fw = (await api.post('/firewalls', { name: 'contract-fw', droplet_ids: [id], tags: ['contract'], ...rules }, valid)).body.firewall.id as string;
    const ids = { droplet: String(id), action: String(action), tag: 'contract-extra', firewall: fw, image: 'ubuntu-24-04-x64' };
    const bodies: Record<string, unknown> = {
      'POST /v2/droplets': dropletBody('c-4'),
      'POST /v2/droplets/{droplet_id}/actions': { type: 'reboot' },
      'POST /v2/tags': { name: 'contract-again' },
      'POST /v2/tags/{tag_id}/resources': resources,
      'DELETE /v2/tags/{tag_id}/resources': resources,
      'POST /v2/firewalls': { name: 'contract-fw-2', ...rules },
      'PUT /v2/firewalls/{firewall_id}': { name: 'contract-fw', ...rules },
      'POST /v2/firewalls/{firewall_id}/droplets': { droplet_ids: [id] },
      'DELETE /v2/firewalls/{firewall_id}/droplets': { droplet_ids: [id] },
      'POST /v2/firewalls/{firewall_id}/tags': { tags: ['contract'] },
      'DELETE /v2/firewalls/{firewall_id}/tags': { tags: ['contract'] },
      'POST /v2/firewalls/{firewall_id}/rules': { inbound_rules: [{ protocol: 'tcp', ports: '8080', sources: { tags: ['contract'] } }] },
      'DELETE /v2/firewalls/{firewall_id}/rules': { inbound_rules: [{ protocol: 'tcp', ports: '8080', sources: { tags: ['contract'] } }] },
    };
    // Deleting whole resources comes last, so every other route still finds what it needs.
    const last = ['DELETE /v2/firewalls/{firewall_id}', 'DELETE /v2/tags/{tag_id}', 'DELETE /v2/droplets/{droplet_id}', 'DELETE /v2/droplets'];
    const rank = (r: { method: string; template: string }) => last.indexOf(`${r.method} ${r.template}`);
    const ordered = [...routes].sort((a, b) => rank(a) - rank(b));
    for (const route of ordered) {
      const key = `${route.method} ${route.template}`;
      await clock.advance(1000); // finish the previous action so the next one may start
      const path = pathFor(route.template, ids) + (key === 'DELETE /v2/droplets' ? '?tag_name=contract' : '');
      const reply = await api.call(route.method, path, bodies[key], { validRequest: bodies[key] !== undefined });
      expect(reply.status, `${key} → ${JSON.stringify(reply.body)}`).toBeLessThan(300);
    }
    for (const route of routes) {
      expect([...seen].some((s) => s.startsWith(`${route.method} ${route.template} 2`)), `${route.method} ${route.template}`).toBe(true);
    }
  });

  it('answers 401 on every route with documented bodies', async () => {
    const sim = await start();
    const api = client(sim);
    const ids = { droplet: '1', action: '1', tag: 't', firewall: 'f', image: '1' };
    for (const route of routes) {
      const reply = await api.call(route.method, pathFor(route.template, ids), undefined, { token: null });
      expect(reply.status).toBe(401);
      expect(seen.has(`${route.method} ${route.template} 401`)).toBe(true);
    }
  });

  it('answers 429 on every route with documented bodies', async () => {
    const sim = await start({ clock: createManualClock(), rateLimit: { perHour: 1, perMinute: 1 } });
    const api = client(sim);
    expect((await api.get('/account')).status).toBe(200);
    const ids = { droplet: '1', action: '1', tag: 't', firewall: 'f', image: '1' };
    for (const route of routes) {
      const reply = await api.call(route.method, pathFor(route.template, ids));
      expect(reply.status).toBe(429);
      expect(seen.has(`${route.method} ${route.template} 429`)).toBe(true);
    }
  });

  it('answers 404 on every route that names a resource, with documented bodies', async () => {
    const sim = await start();
    const api = client(sim);
    const ids = { droplet: '404404', action: '404404', tag: 'no-such-tag', firewall: '00000000-0000-4000-8000-000000000000', image: 'no-such-image' };
    const withId = routes.filter((r) => r.template.includes('{'));
    expect(withId.length).toBeGreaterThan(10);
    for (const route of withId) {
      const body = route.template.includes('/resources') ? { resources: [{ resource_id: '1', resource_type: 'droplet' }] } : { droplet_ids: [], tags: [], name: 'x', type: 'reboot', ...rules };
      const reply = await api.call(route.method, pathFor(route.template, ids), route.method === 'GET' ? undefined : body);
      expect(reply.status, `${route.method} ${route.template}`).toBe(404);
      expect(reply.body.id).toBe('not_found');
    }
  });

  it('answers 422 and 400 with documented bodies, for requests the document also rejects', async () => {
    const sim = await start();
    const api = client(sim);
    const cases: [string, string, unknown][] = [
      ['POST', '/v2/droplets', { name: 'no-size', image: 'ubuntu-24-04-x64' }],
      ['POST', '/v2/droplets', { name: 'a', names: ['b'], size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' }],
      ['POST', '/v2/tags', { name: 'bad name!' }],
      ['POST', '/v2/firewalls', { name: 'no-rules' }],
    ];
    for (const [method, template, body] of cases) {
      expect(validateRequest(method, template, body).valid, JSON.stringify(body)).toBe(false);
      const reply = await api.call(method, template.replace('/v2', ''), body);
      expect(reply.status, JSON.stringify(body)).toBe(422);
      expect(reply.body.id).toBe('unprocessable_entity');
    }
    expect((await api.post('/firewalls', '{not json')).status).toBe(400);
    expect(seen.has('POST /v2/firewalls 400')).toBe(true);
  });

  it('the validator rejects bodies that break the document (so the checks above can fail)', () => {
    const droplet = { id: 1, name: 'x', status: 'running' };
    expect(validateResponse('GET', '/v2/droplets/{droplet_id}', 200, { droplet }).valid).toBe(false);
    expect(validateResponse('GET', '/v2/droplets', 200, { droplets: [] }).errors.join()).toMatch(/meta/);
    expect(validateResponse('GET', '/v2/droplets', 401, { message: 'no id' }).valid).toBe(false);
    expect(validateResponse('DELETE', '/v2/droplets/{droplet_id}', 204, { unexpected: true }).valid).toBe(false);
    expect(validateResponse('DELETE', '/v2/droplets/{droplet_id}', 204, undefined).valid).toBe(true);
    expect(validateRequest('POST', '/v2/droplets', { name: 'x', size: 's', image: 'i', user_data: 5 }).valid).toBe(false);
    expect(validateRequest('POST', '/v2/droplets', { name: 'x', size: 's', image: 'i' }).valid).toBe(true);
    expect(validateRequest('POST', '/v2/tags', { name: 'env:prod' }).valid).toBe(true);
    expect(() => validateResponse('GET', '/v2/nowhere', 200, {})).toThrow(/no operation/);
    expect(digitalOceanContract().pathTemplateOf('/v2/droplets/7/actions/9?x=1')).toBe('/v2/droplets/{droplet_id}/actions/{action_id}');
  });
});

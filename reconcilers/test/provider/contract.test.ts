/**
 * Every request body the provider sends validates against DigitalOcean's OpenAPI request
 * schema for its path (the simulator's contract helper), read off the wire by a recording
 * proxy. (The simulator's own tests hold its answers to the response schemas.)
 */
import { randomUUID } from 'node:crypto';
import { createScaledClock } from '@toolbelt/schema';
import { type Simulator, startSimulator } from '@toolbelt/simulator';
import { digitalOceanContract } from '@toolbelt/simulator/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Provider, POWER_ACTIONS, createProvider, dropletNameFor, identityTagsFor } from '../../src/index.ts';
import { type RecordingProxy, expectNoLeakedSockets, openTcpHandles, startRecordingProxy } from './net-helpers.ts';

describe('request bodies against DigitalOcean’s OpenAPI description', () => {
  const clock = createScaledClock(50);
  let sim: Simulator;
  let proxy: RecordingProxy;
  let provider: Provider;

  let baseline = 0;

  beforeAll(async () => {
    baseline = openTcpHandles();
    sim = await startSimulator({ clock, bootDelayMs: 500, actionDurationMs: 100, rateLimit: false, seed: 5 });
    proxy = await startRecordingProxy(sim.url, clock);
    provider = createProvider({ token: sim.token, apiUrl: proxy.url, clock });
  });
  afterAll(async () => {
    provider.close();
    await proxy.close();
    await sim.close();
    await expectNoLeakedSockets(baseline);
  });

  it('sends only bodies the schema accepts, for every operation that has one', async () => {
    const envId = randomUUID();
    const shared = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };
    const single = await provider.createDroplet({
      name: dropletNameFor(envId),
      ...shared,
      tags: identityTagsFor(envId),
      userData: '#cloud-config\nruncmd:\n  - echo hello\n',
      ipv6: false,
      monitoring: true,
    });
    const batch = await provider.createDroplets(
      Array.from({ length: 10 }, () => dropletNameFor(randomUUID())),
      { ...shared, tags: ['toolbelt'], userData: '#cloud-config\n' },
    );
    await clock.sleep(1000);
    for (const type of POWER_ACTIONS) {
      await provider.powerAction(single.id, type);
      await clock.sleep(500);
    }
    await provider.tagResources('contract-tag', [single.id, batch[0]!.id]);
    const spec = {
      name: 'contract-fw',
      inboundRules: [{ protocol: 'tcp' as const, ports: '22', sources: { addresses: ['10.0.0.0/8'] } }],
      outboundRules: [{ protocol: 'tcp' as const, ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } }],
      tags: ['toolbelt'],
    };
    await provider.ensureFirewall(spec);
    await provider.ensureFirewall({ ...spec, inboundRules: [{ protocol: 'tcp', ports: '443', sources: { addresses: ['0.0.0.0/0'] } }] });
    await provider.deleteDroplet(single.id);

    const contract = digitalOceanContract();
    const withBodies = proxy.requests.filter((r) => r.body !== undefined);
    const checked = new Set<string>();
    for (const request of withBodies) {
      const template = contract.pathTemplateOf(request.path);
      expect(template, `no OpenAPI path for ${request.path}`).toBeDefined();
      const result = contract.validateRequest(request.method, template!, request.body);
      expect(result.errors, `${request.method} ${template}: ${JSON.stringify(request.body)}`).toEqual([]);
      checked.add(`${request.method} ${template}`);
    }
    expect([...checked].sort()).toEqual([
      'POST /v2/droplets',
      'POST /v2/droplets/{droplet_id}/actions',
      'POST /v2/firewalls',
      'POST /v2/tags',
      'POST /v2/tags/{tag_id}/resources',
      'PUT /v2/firewalls/{firewall_id}',
    ]);
    // Both create forms were checked (single `name` and multi `names`).
    const creates = withBodies.filter((r) => r.method === 'POST' && r.path === '/v2/droplets').map((r) => Object.keys(r.body as object));
    expect(creates.some((keys) => keys.includes('name'))).toBe(true);
    expect(creates.some((keys) => keys.includes('names'))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { checkDropletSpec, costOf } from '../../src/provider/catalog.ts';
import { firewallMatches, toFirewall } from '../../src/provider/firewall.ts';
import { namesProblem, sharedSpecProblem } from '../../src/provider/droplets.ts';
import { toImage, toRegion, toSize } from '../../src/provider/types.ts';

const offer = {
  sizes: [
    toSize({ slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, disk: 25, price_monthly: 6, price_hourly: 0.00893, regions: ['nyc3', 'ams3'], available: true }),
    toSize({ slug: 'gone-size', regions: ['nyc3'], available: false }),
  ],
  regions: [toRegion({ slug: 'nyc3', name: 'New York 3', available: true, sizes: ['s-1vcpu-1gb'] }), toRegion({ slug: 'sfo1', available: false })],
  images: [toImage({ id: 7, slug: 'ubuntu-24-04-x64', regions: ['nyc3'] })],
};

describe('spec checks against what DigitalOcean offers', () => {
  it('accepts an offered combination, by image slug or id', () => {
    expect(checkDropletSpec({ region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' }, offer)).toEqual([]);
    expect(checkDropletSpec({ region: 'nyc3', size: 's-1vcpu-1gb', image: 7 }, offer)).toEqual([]);
  });

  it('names each field that is wrong', () => {
    const fields = (spec: { region: string; size: string; image: string }) => checkDropletSpec(spec, offer).map((p) => p.field);
    expect(fields({ region: 'mars1', size: 'huge', image: 'windows' })).toEqual(['region', 'size', 'image']);
    expect(fields({ region: 'sfo1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' })).toEqual(['region', 'size', 'image']);
    expect(fields({ region: 'nyc3', size: 'gone-size', image: 'ubuntu-24-04-x64' })).toEqual(['size']);
    expect(checkDropletSpec({ region: 'nyc3', size: 'huge', image: 'ubuntu-24-04-x64' }, offer)[0]?.message).toMatch(/s-1vcpu-1gb/);
  });

  it('gives the cost of a size', () => {
    expect(costOf('s-1vcpu-1gb', offer.sizes)).toEqual({ monthly: 6, hourly: 0.00893 });
    expect(costOf('nope', offer.sizes)).toBeUndefined();
  });
});

describe('create request checks', () => {
  const shared = { region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', tags: ['toolbelt'] };

  it('takes 1 to 10 distinct valid names', () => {
    expect(namesProblem(['a1', 'a2'])).toBeUndefined();
    expect(namesProblem([])).toMatch(/no names/);
    expect(namesProblem(Array.from({ length: 11 }, (_, i) => `n${i}`))).toMatch(/at most 10/);
    expect(namesProblem(['a1', 'a1'])).toMatch(/repeat/);
    expect(namesProblem(['a_1'])).toMatch(/droplet name/);
  });

  it('checks the shared spec: required fields, tags, 64 KiB of user_data', () => {
    expect(sharedSpecProblem(shared)).toBeUndefined();
    expect(sharedSpecProblem({ ...shared, region: '' })).toMatch(/region/);
    expect(sharedSpecProblem({ ...shared, tags: ['no spaces'] })).toMatch(/tag/);
    expect(sharedSpecProblem({ ...shared, userData: 'x'.repeat(64 * 1024 + 1) })).toMatch(/64 KiB/);
    expect(sharedSpecProblem({ ...shared, userData: 'x'.repeat(64 * 1024) })).toBeUndefined();
  });
});

describe('firewall comparison', () => {
  const spec = {
    name: 'toolbelt-fleet',
    inboundRules: [{ protocol: 'tcp' as const, ports: '22', sources: { addresses: ['10.0.0.0/8', '0.0.0.0/0'] } }],
    outboundRules: [
      { protocol: 'icmp' as const, ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
      { protocol: 'tcp' as const, ports: 'all', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
    ],
    tags: ['toolbelt'],
  };
  const asReturned = toFirewall({
    id: 'fw-1',
    name: 'toolbelt-fleet',
    status: 'succeeded',
    inbound_rules: [{ protocol: 'tcp', ports: '22', sources: { addresses: ['0.0.0.0/0', '10.0.0.0/8'], tags: [] } }],
    outbound_rules: [
      { protocol: 'tcp', ports: '0', destinations: { addresses: ['::/0', '0.0.0.0/0'] } },
      { protocol: 'icmp', ports: '0', destinations: { addresses: ['0.0.0.0/0', '::/0'] } },
    ],
    tags: ['toolbelt'],
    droplet_ids: [5],
  });

  it('treats DigitalOcean’s way of writing the same rules as equal', () => {
    expect(firewallMatches(spec, asReturned)).toBe(true);
  });

  it('sees a changed port, tag or droplet list', () => {
    expect(firewallMatches({ ...spec, inboundRules: [{ ...spec.inboundRules[0]!, ports: '2222' }] }, asReturned)).toBe(false);
    expect(firewallMatches({ ...spec, tags: ['other'] }, asReturned)).toBe(false);
    expect(firewallMatches({ ...spec, dropletIds: [] }, asReturned)).toBe(false);
    expect(firewallMatches({ ...spec, dropletIds: [5] }, asReturned)).toBe(true);
  });
});

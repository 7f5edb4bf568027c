import { describe, expect, it } from 'vitest';
import { dropletNameFor, identityOf, identityTagsFor, indexFleet, rowTagFor, tagProblem, dropletNameProblem } from '../../src/provider/identity.ts';
import { toDroplet } from '../../src/provider/types.ts';

const ENV = '0b6f3c1e-8f4a-4d2b-9c7e-1a2b3c4d5e6f';

function droplet(id: number, name: string, tags: string[], createdAt = '2026-01-01T00:00:00Z') {
  return toDroplet({ id, name, tags, status: 'active', created_at: createdAt });
}

describe('droplet identity', () => {
  it('names and tags a droplet from its row id, within DigitalOcean’s rules', () => {
    expect(dropletNameFor(ENV)).toBe(`tb-${ENV}`);
    expect(rowTagFor(ENV)).toBe(`tb-env-${ENV}`);
    expect(identityTagsFor(ENV)).toEqual(['toolbelt', `tb-env-${ENV}`]);
    expect(identityTagsFor(ENV, 'fleet-b')).toEqual(['fleet-b', `tb-env-${ENV}`]);
    expect(dropletNameProblem(dropletNameFor(ENV))).toBeUndefined();
    for (const tag of identityTagsFor(ENV)) expect(tagProblem(tag)).toBeUndefined();
  });

  it('refuses ids that cannot make a name or tag', () => {
    expect(() => dropletNameFor('has space')).toThrow(/cannot name a droplet/);
    expect(() => rowTagFor('x'.repeat(300))).toThrow(/cannot name a droplet/);
    expect(() => dropletNameFor('-leading')).toThrow();
  });

  it('reads the identity back from the name, with or without the row tag', () => {
    expect(identityOf(droplet(1, `tb-${ENV}`, ['toolbelt']))).toBe(ENV);
    expect(identityOf(droplet(1, `tb-${ENV}`, ['toolbelt', `tb-env-${ENV}`]))).toBe(ENV);
  });

  it('ignores droplets that are not ours or whose name and row tag disagree', () => {
    expect(identityOf(droplet(1, 'web-1', ['toolbelt']))).toBeUndefined();
    expect(identityOf(droplet(1, `tb-${ENV}`, ['toolbelt', 'tb-env-someone-else']))).toBeUndefined();
  });

  it('indexes a fleet by row, oldest first, and sets unidentified droplets apart', () => {
    const other = '11111111-2222-3333-4444-555555555555';
    const fleet = [
      droplet(3, `tb-${ENV}`, ['toolbelt'], '2026-01-02T00:00:00Z'),
      droplet(2, `tb-${ENV}`, ['toolbelt'], '2026-01-01T00:00:00Z'),
      droplet(4, `tb-${other}`, ['toolbelt']),
      droplet(5, 'hand-made', ['toolbelt']),
    ];
    const { byEnv, unidentified } = indexFleet(fleet);
    expect(byEnv.get(ENV)?.map((d) => d.id)).toEqual([2, 3]);
    expect(byEnv.get(other)?.map((d) => d.id)).toEqual([4]);
    expect(unidentified.map((d) => d.id)).toEqual([5]);
  });

  it('checks tags and names as DigitalOcean does', () => {
    expect(tagProblem('env:prod')).toBeUndefined();
    expect(tagProblem('has space')).toMatch(/only letters/);
    expect(tagProblem('')).toMatch(/empty/);
    expect(tagProblem('a'.repeat(256))).toMatch(/longer/);
    expect(dropletNameProblem('sub-01.example.com')).toBeUndefined();
    expect(dropletNameProblem('bad_name')).toMatch(/letters, digits/);
  });
});

describe('normalised droplets', () => {
  it('flattens DigitalOcean’s JSON', () => {
    const d = toDroplet({
      id: 3164444,
      name: 'example.com',
      status: 'active',
      locked: false,
      tags: ['web'],
      region: { slug: 'nyc3', name: 'New York 3' },
      size_slug: 's-1vcpu-1gb',
      image: { id: 63663980, slug: 'ubuntu-20-04-x64' },
      created_at: '2020-07-21T18:37:44Z',
      networks: {
        v4: [
          { ip_address: '10.128.192.124', type: 'private' },
          { ip_address: '192.241.165.154', type: 'public' },
        ],
      },
    });
    expect(d).toEqual({
      id: 3164444,
      name: 'example.com',
      status: 'active',
      locked: false,
      tags: ['web'],
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-20-04-x64',
      createdAt: '2020-07-21T18:37:44Z',
      publicIpv4: '192.241.165.154',
      privateIpv4: '10.128.192.124',
    });
  });
});

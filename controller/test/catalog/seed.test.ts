import { describe, expect, it } from 'vitest';
import { seedCatalog } from '../../src/catalog/seed.ts';

describe('the seeded catalog', () => {
  it('offers echo-docker (an image in a registry on this machine) only where droplets run on this machine', () => {
    const names = (localDroplets: boolean) => seedCatalog('1.0.0', { localDroplets }).map((t) => t.tool_name);
    expect(names(true)).toEqual(['echo', 'echo-docker', 'everything']);
    expect(names(false)).toEqual(['echo', 'everything']);
    // Nothing seeded for real droplets points at a loopback registry.
    expect(seedCatalog('1.0.0', { localDroplets: false }).some((t) => t.package_identifier.startsWith('127.'))).toBe(false);
  });
});

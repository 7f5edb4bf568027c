import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DIGITALOCEAN_API_URL, normalizeApiUrl, providerConfigFromEnv, providerEnvSchema } from '../../src/provider/config.ts';

describe('provider configuration', () => {
  it('defaults to the real API and the toolbelt fleet tag', () => {
    expect(providerConfigFromEnv({ DIGITALOCEAN_TOKEN: 'dop_v1_x' })).toEqual({ token: 'dop_v1_x', apiUrl: DIGITALOCEAN_API_URL, fleetTag: 'toolbelt' });
  });

  it('points at another API (the simulator) when told', () => {
    const config = providerConfigFromEnv({ DIGITALOCEAN_TOKEN: 't', DIGITALOCEAN_API_URL: 'http://127.0.0.1:8079/v2/', TOOLBELT_FLEET_TAG: 'fleet:a' });
    expect(config).toMatchObject({ apiUrl: 'http://127.0.0.1:8079/v2', fleetTag: 'fleet:a' });
  });

  it('says what is wrong and what to do, without echoing the token', () => {
    expect(() => providerConfigFromEnv({})).toThrow(/DIGITALOCEAN_TOKEN is required/);
    expect(() => providerConfigFromEnv({ DIGITALOCEAN_TOKEN: '  ' })).toThrow(/DIGITALOCEAN_TOKEN is empty/);
    let message = '';
    try {
      providerConfigFromEnv({ DIGITALOCEAN_TOKEN: 'super-secret', DIGITALOCEAN_API_URL: 'http://127.0.0.1:9/api', TOOLBELT_FLEET_TAG: 'bad tag' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/DIGITALOCEAN_API_URL must end in \/v2/);
    expect(message).toMatch(/TOOLBELT_FLEET_TAG/);
    expect(message).not.toContain('super-secret');
  });

  it('merges into a controller’s own zod schema', () => {
    const schema = z.object({ ...providerEnvSchema, PORT: z.coerce.number().default(8080) });
    expect(schema.parse({ DIGITALOCEAN_TOKEN: 't' })).toMatchObject({ PORT: 8080, DIGITALOCEAN_API_URL: DIGITALOCEAN_API_URL });
  });

  it('normalises API URLs', () => {
    expect(normalizeApiUrl('https://api.digitalocean.com/v2/')).toBe('https://api.digitalocean.com/v2');
    expect(() => normalizeApiUrl('ftp://x/v2')).toThrow(/http/);
    expect(() => normalizeApiUrl('http://x/v2?a=1')).toThrow(/query/);
    expect(() => normalizeApiUrl('not a url')).toThrow();
  });
});

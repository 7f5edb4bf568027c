/**
 * The provider's part of the controller's configuration: `DIGITALOCEAN_TOKEN` and
 * `DIGITALOCEAN_API_URL` (default the real API; the quick start points it at the embedded
 * simulator), plus the fleet tag. The controller merges `providerEnvSchema` into its own zod
 * schema, or calls `providerConfigFromEnv(env)`; nothing here reads `process.env`.
 *
 * Error messages never contain the token.
 */
import { ToolbeltError } from '@toolbelt/schema';
import { z } from 'zod';
import { DEFAULT_FLEET_TAG, tagProblem } from './identity.ts';

/** DigitalOcean's API, as dots-wrapper wants it (ending in `/v2`). */
export const DIGITALOCEAN_API_URL = 'https://api.digitalocean.com/v2';

/** Accepts `http(s)://host[:port][/prefix]/v2` (a trailing slash is dropped). */
export function normalizeApiUrl(raw: string): string {
  const url = new URL(raw.trim());
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('must be an http(s) URL');
  if (url.search || url.hash) throw new Error('must not have a query or fragment');
  const path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/v2')) throw new Error('must end in /v2, e.g. http://127.0.0.1:8079/v2');
  return `${url.origin}${path}`;
}

/** Zod fields for the controller's environment schema. */
export const providerEnvSchema = {
  DIGITALOCEAN_TOKEN: z
    .string({ error: 'DIGITALOCEAN_TOKEN is required: a DigitalOcean personal access token (read and write)' })
    .trim()
    .min(1, 'DIGITALOCEAN_TOKEN is empty: set it to a DigitalOcean personal access token (read and write)'),
  DIGITALOCEAN_API_URL: z
    .string()
    .default(DIGITALOCEAN_API_URL)
    .transform((value, ctx) => {
      try {
        return normalizeApiUrl(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `DIGITALOCEAN_API_URL ${(error as Error).message}` });
        return z.NEVER;
      }
    }),
  TOOLBELT_FLEET_TAG: z
    .string()
    .default(DEFAULT_FLEET_TAG)
    .refine((tag) => tagProblem(tag) === undefined, {
      message: 'TOOLBELT_FLEET_TAG must be a DigitalOcean tag: letters, digits, "_", "-", ":" (at most 255)',
    }),
};

/** What createProvider needs from the environment, parsed. */
export interface ProviderConfig {
  token: string;
  apiUrl: string;
  fleetTag: string;
}

/**
 * Parses the provider's variables from an environment object (pure; pass `process.env`).
 * Throws a ToolbeltError `CONFIG_INVALID` listing every problem; the token never appears.
 */
export function providerConfigFromEnv(env: Record<string, string | undefined>): ProviderConfig {
  const parsed = z.object(providerEnvSchema).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => i.message).join('; ');
    throw new ToolbeltError('CONFIG_INVALID', `DigitalOcean configuration is invalid: ${problems}`, {
      hint: 'set DIGITALOCEAN_TOKEN, and DIGITALOCEAN_API_URL only to point at another API (e.g. the simulator)',
    });
  }
  const { DIGITALOCEAN_TOKEN, DIGITALOCEAN_API_URL: apiUrl, TOOLBELT_FLEET_TAG } = parsed.data;
  return { token: DIGITALOCEAN_TOKEN, apiUrl, fleetTag: TOOLBELT_FLEET_TAG };
}

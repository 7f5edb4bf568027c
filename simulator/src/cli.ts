/**
 * The standalone simulator's command line, parsed once (node:util parseArgs + zod) into
 * SimulatorOptions. Bad flags produce a message that names the flag and what it takes.
 */
import { parseArgs } from 'node:util';
import { createScaledClock, systemClock } from '@toolbelt/schema/clock';
import { z } from 'zod';
import type { SimulatorOptions } from './options.ts';
import type { DelaySpec } from './random.ts';

export const USAGE = `Usage: npm run simulator -- [flags]

A local DigitalOcean API v2 (droplets, actions, tags, firewalls, regions, sizes, images, account).

  --port N               port to listen on (default 9090; 0 = any free port)
  --host ADDR            address to listen on (default 127.0.0.1)
  --token TOKEN          bearer token to accept (default: a random dop_v1_sim_… token)
  --boot-delay-ms MS     droplet boot time in simulated ms: "3000" or a range "2000-4000" (default 2000-4000)
  --action-ms MS         droplet action time in simulated ms, same forms (default 1000-3000)
  --speed X              simulated time runs X times faster than real time (default 1)
  --droplet-limit N      the account's droplet limit (default 25000)
  --per-minute N         rate limit per token per minute (default 250)
  --per-hour N           rate limit per token per hour (default 5000)
  --no-rate-limit        turn rate limiting off
  --seed N               seed for delays and ids (deterministic runs)
  --help                 show this help`;

const delay = z.string().transform((value, ctx): DelaySpec => {
  const match = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  const min = Number(match?.[1]);
  const max = match?.[2] === undefined ? min : Number(match[2]);
  if (!match || max < min) {
    ctx.addIssue({ code: 'custom', message: `expected ms such as 3000 or a range such as 2000-4000, got "${value}"` });
    return z.NEVER;
  }
  return min === max ? min : { minMs: min, maxMs: max };
});
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `expected at least ${min}`).max(max, `expected at most ${max}`));

const flagsSchema = z
  .object({
    port: wholeNumber(0, 65535).default(9090),
    host: z.string().min(1).default('127.0.0.1'),
    token: z.string().regex(/^[\x21-\x7e]{8,}$/, 'at least 8 printable characters without spaces').optional(),
    'boot-delay-ms': delay.optional(),
    'action-ms': delay.optional(),
    speed: z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'expected a positive number such as 100')
      .transform(Number)
      .pipe(z.number().positive('expected a positive number'))
      .default(1),
    'droplet-limit': wholeNumber(0).optional(),
    'per-minute': wholeNumber(1).default(250),
    'per-hour': wholeNumber(1).default(5000),
    'no-rate-limit': z.boolean().default(false),
    seed: wholeNumber(0).optional(),
    help: z.boolean().default(false),
  })
  .refine((f) => f['per-minute'] <= f['per-hour'], { message: 'must not exceed --per-hour', path: ['per-minute'] });

export type CliResult =
  | { readonly kind: 'run'; readonly options: SimulatorOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string };

const STRING_FLAGS = ['port', 'host', 'token', 'boot-delay-ms', 'action-ms', 'speed', 'droplet-limit', 'per-minute', 'per-hour', 'seed'];

/** Parses argv (without node and the script) into options, help, or an error message. */
export function parseCli(argv: readonly string[]): CliResult {
  let values: Record<string, unknown>;
  try {
    const options = Object.fromEntries([
      ...STRING_FLAGS.map((name) => [name, { type: 'string' as const }]),
      ['no-rate-limit', { type: 'boolean' as const }],
      ['help', { type: 'boolean' as const, short: 'h' }],
    ]);
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { kind: 'error', message: `--${String(issue.path[0] ?? '?')}: ${issue.message}` };
  }
  const f = parsed.data;
  if (f.help) return { kind: 'help' };
  return {
    kind: 'run',
    options: {
      port: f.port,
      host: f.host,
      token: f.token,
      bootDelayMs: f['boot-delay-ms'],
      actionDurationMs: f['action-ms'],
      clock: f.speed === 1 ? systemClock : createScaledClock(f.speed),
      dropletLimit: f['droplet-limit'],
      rateLimit: f['no-rate-limit'] ? false : { perMinute: f['per-minute'], perHour: f['per-hour'] },
      seed: f.seed,
    },
  };
}

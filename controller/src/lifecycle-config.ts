/**
 * The droplet lifecycle's settings (DigitalOcean, fleet, sweeps, batching, graces, orphans,
 * firewall), merged into the controller's one config schema (config.ts). Every duration is
 * in milliseconds; every default is what an operator would expect.
 */
import { DEFAULT_FLEET_TAG, DIGITALOCEAN_API_URL, normalizeApiUrl, tagProblem } from '@toolbelt/reconcilers';
import { z } from 'zod';
import { isAllowedAgentUrl } from '@toolbelt/schema/cloud-init';
import { blankToUndefined, count, flag, maybeFlag, milliseconds } from './config-fields.ts';

/** Environment variable, flag and help of each lifecycle setting. */
export const LIFECYCLE_SETTINGS = {
  digitaloceanToken: {
    env: 'DIGITALOCEAN_TOKEN',
    flag: 'digitalocean-token',
    help: 'DigitalOcean personal access token (read/write); unset runs an embedded simulator',
    secret: true,
  },
  digitaloceanApiUrl: { env: 'DIGITALOCEAN_API_URL', flag: 'digitalocean-api-url', help: 'DigitalOcean API base ending in /v2' },
  fleetTag: { env: 'TOOLBELT_FLEET_TAG', flag: 'fleet-tag', help: 'tag on every droplet toolbelt owns' },
  simulatorBootMs: { env: 'TOOLBELT_SIMULATOR_BOOT_MS', flag: 'simulator-boot-ms', help: 'embedded simulator: droplet boot time ("3000" or "2000-4000")' },
  simulatorPort: { env: 'TOOLBELT_SIMULATOR_PORT', flag: 'simulator-port', help: 'embedded simulator: port (0 picks a free one)' },
  sweepFastMs: { env: 'TOOLBELT_SWEEP_FAST_MS', flag: 'sweep-fast-ms', help: 'fleet sweep interval while droplets change' },
  sweepSteadyMs: { env: 'TOOLBELT_SWEEP_STEADY_MS', flag: 'sweep-steady-ms', help: 'fleet sweep interval while the fleet is still' },
  createBatchWindowMs: { env: 'TOOLBELT_CREATE_BATCH_WINDOW_MS', flag: 'create-batch-window-ms', help: 'how long a create waits for company (up to 10 per request)' },
  agentRequired: {
    env: 'TOOLBELT_AGENT_REQUIRED',
    flag: 'agent-required',
    help: 'Ready waits for the droplet agent (true/false; default true, false for an embedded simulator without local droplets)',
  },
  agentHeartbeatMs: { env: 'TOOLBELT_AGENT_HEARTBEAT_MS', flag: 'agent-heartbeat-ms', help: 'how often droplet agents are told to send heartbeats' },
  agentHelloGraceMs: { env: 'TOOLBELT_AGENT_HELLO_GRACE_MS', flag: 'agent-hello-grace-ms', help: "from a droplet's boot to its agent's first hello" },
  agentSilenceGraceMs: { env: 'TOOLBELT_AGENT_SILENCE_GRACE_MS', flag: 'agent-silence-grace-ms', help: 'heartbeat silence before Unreachable' },
  replaceAfterMs: { env: 'TOOLBELT_REPLACE_AFTER_MS', flag: 'replace-after-ms', help: 'after a power cycle that did not help, replace the droplet' },
  bootTimeoutMs: { env: 'TOOLBELT_BOOT_TIMEOUT_MS', flag: 'boot-timeout-ms', help: 'a droplet still booting this long is replaced' },
  bootRetries: {
    env: 'TOOLBELT_BOOT_RETRIES',
    flag: 'boot-retries',
    help: 'how many times droplets whose agent never says hello are replaced before the environment stops in BootFailed',
  },
  bootRetryDelayMs: {
    env: 'TOOLBELT_BOOT_RETRY_DELAY_MS',
    flag: 'boot-retry-delay-ms',
    help: 'the wait before the droplet after a boot failure is created, doubled for each further one',
  },
  quotaRetryMs: { env: 'TOOLBELT_QUOTA_RETRY_MS', flag: 'quota-retry-ms', help: 'after the droplet limit refused a create, try again after' },
  orphanGraceMs: { env: 'TOOLBELT_ORPHAN_GRACE_MS', flag: 'orphan-grace-ms', help: 'an unowned droplet with the fleet tag is deleted after' },
  orphanDryRun: { env: 'TOOLBELT_ORPHAN_DRY_RUN', flag: 'orphan-dry-run', help: 'report orphans instead of deleting them (true/false)' },
  firewall: { env: 'TOOLBELT_FIREWALL', flag: 'firewall', help: 'manage the fleet firewall (true/false)' },
  adminCidrs: { env: 'TOOLBELT_ADMIN_CIDRS', flag: 'admin-cidrs', help: 'comma-separated CIDRs allowed to SSH into droplets' },
  sshKeys: { env: 'TOOLBELT_SSH_KEYS', flag: 'ssh-keys', help: 'comma-separated DigitalOcean SSH key ids or fingerprints put on every droplet created (SSH stays closed unless TOOLBELT_ADMIN_CIDRS)' },
  toolSourceCidrs: { env: 'TOOLBELT_TOOL_SOURCE_CIDRS', flag: 'tool-source-cidrs', help: "comma-separated CIDRs allowed to reach the tools' ports" },
  agentUrl: { env: 'TOOLBELT_AGENT_URL', flag: 'agent-url', help: 'the URL droplet agents dial (wss://…/agent/v1)' },
  agentCaFile: { env: 'TOOLBELT_AGENT_CA_FILE', flag: 'agent-ca-file', help: "a private CA (PEM) droplet agents trust for the controller's certificate" },
  agentVersion: { env: 'TOOLBELT_AGENT_VERSION', flag: 'agent-version', help: 'agent release new droplets install (default: the one this controller built)' },
  agentReleasesDir: { env: 'TOOLBELT_AGENT_RELEASES_DIR', flag: 'agent-releases-dir', help: 'where the agent releases served at /agent/v1/releases are' },
  nodeDistUrl: { env: 'TOOLBELT_NODE_DIST_URL', flag: 'node-dist-url', help: 'where droplets download Node (nodejs.org/dist or a mirror laid out like it)' },
  nodeVersion: { env: 'TOOLBELT_NODE_VERSION', flag: 'node-version', help: 'the Node version droplets install' },
} as const;

const blank = blankToUndefined;
const cidrs = z.preprocess(
  blank,
  z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
);

/** A DigitalOcean SSH key: its numeric id or its MD5 fingerprint. */
const SSH_KEY = /^(\d{1,12}|[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){15})$/;

const bootDelay = z.preprocess(
  blank,
  z
    .string()
    .regex(/^\d+(-\d+)?$/, 'expected ms such as 3000 or a range such as 2000-4000')
    .default('3000')
    .transform((v) => {
      const [min, max = min] = v.split('-').map(Number) as [number, number?];
      return { minMs: Math.min(min, max), maxMs: Math.max(min, max) };
    }),
);

/** Zod fields of the lifecycle settings (spread into the controller's schema). */
export const lifecycleFields = {
  digitaloceanToken: z.preprocess(blank, z.string().trim().min(1).optional()),
  digitaloceanApiUrl: z.preprocess(
    blank,
    z
      .string()
      .default(DIGITALOCEAN_API_URL)
      .transform((value, ctx) => {
        try {
          return normalizeApiUrl(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
  ),
  fleetTag: z.preprocess(
    blank,
    z
      .string()
      .default(DEFAULT_FLEET_TAG)
      .refine((tag) => tagProblem(tag) === undefined, { message: 'must be a DigitalOcean tag: letters, digits, "_", "-", ":"' }),
  ),
  simulatorBootMs: bootDelay,
  simulatorPort: z.preprocess(blank, z.coerce.number().int().min(0).max(65535).default(0)),
  sweepFastMs: milliseconds(100, 5_000),
  sweepSteadyMs: milliseconds(100, 60_000),
  createBatchWindowMs: milliseconds(0, 150),
  agentRequired: maybeFlag,
  agentHeartbeatMs: z.preprocess(blank, z.coerce.number().int().min(1000).max(300_000).default(15_000)),
  agentHelloGraceMs: milliseconds(1, 10 * 60_000),
  agentSilenceGraceMs: milliseconds(1, 90_000),
  replaceAfterMs: milliseconds(1, 10 * 60_000),
  bootTimeoutMs: milliseconds(1, 15 * 60_000),
  bootRetries: count(0, 100, 2),
  bootRetryDelayMs: milliseconds(1, 5 * 60_000),
  quotaRetryMs: milliseconds(1, 15 * 60_000),
  orphanGraceMs: milliseconds(0, 10 * 60_000),
  orphanDryRun: flag(false),
  firewall: flag(true),
  adminCidrs: cidrs,
  sshKeys: z.preprocess(
    blank,
    z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(SSH_KEY, 'each must be a DigitalOcean SSH key id or an MD5 fingerprint (aa:bb:…, 16 pairs)')))
      .transform((keys) => keys.map((k) => (/^\d+$/.test(k) ? Number(k) : k.toLowerCase()))),
  ),
  toolSourceCidrs: cidrs,
  agentUrl: z.preprocess(blank, z.string().url().optional()),
  agentCaFile: z.preprocess(blank, z.string().min(1).optional()),
  agentVersion: z.preprocess(blank, z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/, 'must be a version').optional()),
  agentReleasesDir: z.preprocess(blank, z.string().optional()),
  nodeDistUrl: z.preprocess(blank, z.string().url().refine((u) => /^https?:\/\//.test(u) && !/['"\\\s]/.test(u), 'must be an http(s) URL').default('https://nodejs.org/dist')),
  nodeVersion: z.preprocess(blank, z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a Node version like 22.12.0').default('22.12.0')),
};

/** The lifecycle's part of the parsed config. */
export type LifecycleConfig = z.infer<z.ZodObject<typeof lifecycleFields>>;

/**
 * Where tools listen on their droplets: on every address (`0.0.0.0`) only when the fleet
 * firewall opens their ports to somebody (TOOLBELT_TOOL_SOURCE_CIDRS); on loopback otherwise,
 * so that a droplet without a firewall in front (or a local droplet on a laptop) exposes nothing.
 */
export function toolHostIp(c: Pick<LifecycleConfig, 'toolSourceCidrs' | 'firewall'>): '0.0.0.0' | '127.0.0.1' {
  return c.firewall && c.toolSourceCidrs.length > 0 ? '0.0.0.0' : '127.0.0.1';
}

/** How late a heartbeat may be on a busy droplet (sampling /proc, a GC pause, a loaded core). */
const HEARTBEAT_SLACK_MS = 2000;

/**
 * The shortest silence grace an agent heartbeating every `heartbeatMs` can meet: it sends its
 * first heartbeat right after hello, then one per interval; the grace must outlast one late beat.
 */
export function minSilenceGraceMs(heartbeatMs: number): number {
  return Math.max(2 * heartbeatMs, heartbeatMs + HEARTBEAT_SLACK_MS);
}

/** Cross-field checks: returns problems as [setting, message]. */
export function lifecycleConfigProblems(c: LifecycleConfig): [keyof typeof LIFECYCLE_SETTINGS, string][] {
  const problems: [keyof typeof LIFECYCLE_SETTINGS, string][] = [];
  if (c.sweepSteadyMs < c.sweepFastMs) problems.push(['sweepSteadyMs', `must be at least TOOLBELT_SWEEP_FAST_MS (${c.sweepFastMs})`]);
  const silenceFloor = minSilenceGraceMs(c.agentHeartbeatMs);
  if (c.agentSilenceGraceMs < silenceFloor) {
    problems.push([
      'agentSilenceGraceMs',
      `must be at least ${silenceFloor} ms with TOOLBELT_AGENT_HEARTBEAT_MS ${c.agentHeartbeatMs} (twice the interval, and the interval plus ${HEARTBEAT_SLACK_MS} ms): an agent heartbeats once an interval, and one late heartbeat on a busy droplet must not make it Unreachable`,
    ]);
  }
  if (c.digitaloceanToken && !c.agentUrl) {
    problems.push(['agentUrl', 'is required with DIGITALOCEAN_TOKEN: the wss:// URL droplets reach the controller at, e.g. wss://toolbelt.example.com/agent/v1']);
  }
  if (c.agentUrl && !isAllowedAgentUrl(c.agentUrl)) {
    problems.push(['agentUrl', 'must be wss:// (ws:// only on loopback)']);
  }
  return problems;
}

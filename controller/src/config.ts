/**
 * The controller's configuration, parsed once in `main` from the environment and flags
 * (flags win) by one zod schema, then passed down typed. Nothing else reads process.env.
 */
import { parseArgs } from 'node:util';
import { DB_SCHEMA_NAME, DEFAULT_DB_SCHEMA, regionSchema, sizeSchema, ToolbeltError } from '@toolbelt/schema';
import { z } from 'zod';
import { GATEWAY_SETTINGS, gatewayFields } from './gateway/config.ts';
import { GITOPS_SETTINGS, gitopsFields } from './gitops/config.ts';
import { LIFECYCLE_SETTINGS, lifecycleConfigProblems, lifecycleFields } from './lifecycle-config.ts';
import { blankToUndefined, count, flag, milliseconds } from './config-fields.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where each setting comes from: its environment variable and its flag. */
export const SETTINGS = {
  host: { env: 'HOST', flag: 'host', help: 'address the HTTP server binds to' },
  port: { env: 'PORT', flag: 'port', help: 'port of the HTTP server (0 picks a free one)' },
  databaseUrl: { env: 'DATABASE_URL', flag: 'database-url', help: 'Postgres URL; unset means embedded PGlite' },
  dataDir: { env: 'TOOLBELT_DATA_DIR', flag: 'data-dir', help: "PGlite's data directory" },
  tlsCertFile: { env: 'TOOLBELT_TLS_CERT_FILE', flag: 'tls-cert-file', help: 'built-in TLS: PEM certificate (chain); reloaded when it changes' },
  tlsKeyFile: { env: 'TOOLBELT_TLS_KEY_FILE', flag: 'tls-key-file', help: 'built-in TLS: PEM private key of that certificate' },
  dbSchema: { env: 'TOOLBELT_DB_SCHEMA', flag: 'db-schema', help: 'the Postgres schema holding all of toolbelt\'s tables' },
  logLevel: { env: 'LOG_LEVEL', flag: 'log-level', help: LOG_LEVELS.join(', ') },
  logFormat: { env: 'LOG_FORMAT', flag: 'log-format', help: 'json, pretty, or auto (pretty on a terminal)' },
  adminToken: {
    env: 'TOOLBELT_ADMIN_TOKEN',
    flag: 'admin-token',
    help: 'an admin API token to register at start (prefer the environment variable: flags show in ps)',
    secret: true,
  },
  defaultRegion: { env: 'TOOLBELT_DEFAULT_REGION', flag: 'default-region', help: 'region of environments created without one' },
  defaultSize: { env: 'TOOLBELT_DEFAULT_SIZE', flag: 'default-size', help: 'droplet size of environments created without one' },
  secretsBackend: { env: 'TOOLBELT_SECRETS_BACKEND', flag: 'secrets-backend', help: 'local (envelope-encrypted in the database) or vault (Supabase Vault)' },
  masterKey: {
    env: 'TOOLBELT_MASTER_KEY',
    flag: 'master-key',
    help: 'base64 master keys for secrets, current first, comma-separated (prefer the environment variable)',
    secret: true,
  },
  masterKeyFile: { env: 'TOOLBELT_MASTER_KEY_FILE', flag: 'master-key-file', help: 'a file of base64 master keys, one a line, current first' },
  leaseTtlMs: { env: 'TOOLBELT_LEASE_TTL_MS', flag: 'lease-ttl-ms', help: 'how long the leader lease lasts unless renewed' },
  leaseRenewMs: { env: 'TOOLBELT_LEASE_RENEW_MS', flag: 'lease-renew-ms', help: 'how often the leader renews it (default 30 % of the TTL)' },
  resyncIntervalMs: {
    env: 'TOOLBELT_RESYNC_INTERVAL_MS',
    flag: 'resync-interval-ms',
    help: 'how often every key is reconciled again (±10 %)',
  },
  reconcileTimeoutMs: { env: 'TOOLBELT_RECONCILE_TIMEOUT_MS', flag: 'reconcile-timeout-ms', help: 'per-reconcile timeout' },
  reconcileWorkers: { env: 'TOOLBELT_RECONCILE_WORKERS', flag: 'reconcile-workers', help: 'concurrent reconciles per kind' },
  reconcileRate: { env: 'TOOLBELT_RECONCILE_RATE', flag: 'reconcile-rate', help: 'reconciles per second, all kinds together' },
  replicaId: { env: 'TOOLBELT_REPLICA_ID', flag: 'replica-id', help: "this replica's name in the leader lease" },
  localDroplets: {
    env: 'TOOLBELT_LOCAL_DROPLETS',
    flag: 'local-droplets',
    help: 'embedded simulator: boot each droplet as a real droplet agent on this machine (true/false)',
  },
  localDockerSocket: {
    env: 'TOOLBELT_LOCAL_DOCKER_SOCKET',
    flag: 'local-docker-socket',
    help: 'local droplets: a Docker Engine API socket, enabling the docker runtime',
  },
  seedCatalog: { env: 'TOOLBELT_SEED_CATALOG', flag: 'seed-catalog', help: 'add the built-in tools (echo, everything) to the catalog at start (true/false)' },
  consoleDir: { env: 'TOOLBELT_CONSOLE_DIR', flag: 'console-dir', help: "the web console's built assets, served at / (default: console/dist of this checkout)" },
  sessionTtlMs: { env: 'TOOLBELT_SESSION_TTL_MS', flag: 'session-ttl-ms', help: 'how long a console session lasts after sign-in' },
  ...LIFECYCLE_SETTINGS,
  ...GATEWAY_SETTINGS,
  ...GITOPS_SETTINGS,
} as const;
type SettingName = keyof typeof SETTINGS;

const fields = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  databaseUrl: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v)),
  dataDir: z.string().min(1).default('./.toolbelt/data'),
  tlsCertFile: z.preprocess(blankToUndefined, z.string().min(1).optional()),
  tlsKeyFile: z.preprocess(blankToUndefined, z.string().min(1).optional()),
  dbSchema: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(DB_SCHEMA_NAME, 'must be a plain lower-case identifier (letters, digits, _), not pg_… or information_schema')
      .default(DEFAULT_DB_SCHEMA),
  ),
  logLevel: z.enum(LOG_LEVELS).default('info'),
  logFormat: z.enum(['json', 'pretty', 'auto']).default('auto'),
  adminToken: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 20, 'must be at least 20 characters (generate one with `openssl rand -hex 32`)'),
  defaultRegion: regionSchema.default('nyc3'),
  defaultSize: sizeSchema.default('s-1vcpu-1gb'),
  secretsBackend: z.enum(['local', 'vault']).default('local'),
  masterKey: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v)),
  masterKeyFile: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v)),
  leaseTtlMs: milliseconds(1_000, 10_000),
  leaseRenewMs: z.preprocess(blankToUndefined, z.coerce.number().int().min(100).optional()),
  resyncIntervalMs: milliseconds(1_000, 300_000),
  reconcileTimeoutMs: milliseconds(100, 60_000),
  reconcileWorkers: count(1, 256, 4),
  reconcileRate: count(1, 1_000_000, 5_000),
  replicaId: z.preprocess(blankToUndefined, z.string().max(200).optional()),
  localDroplets: flag(true),
  localDockerSocket: z.preprocess(blankToUndefined, z.string().min(1).optional()),
  seedCatalog: flag(true),
  consoleDir: z.preprocess(blankToUndefined, z.string().min(1).optional()),
  sessionTtlMs: z.preprocess(blankToUndefined, z.coerce.number().int().min(60_000).max(30 * 86_400_000).default(12 * 3_600_000)),
  ...lifecycleFields,
  ...gatewayFields,
  ...gitopsFields,
});

export const configSchema = fields
  .transform((c) => ({
    ...c,
    leaseRenewMs: c.leaseRenewMs ?? Math.floor(c.leaseTtlMs * 0.3),
    // Ready waits for the droplet agent — except where no agent can ever dial in: the
    // embedded simulator with local droplets switched off boots droplets that run nothing.
    agentRequired: c.agentRequired ?? !(c.digitaloceanToken === undefined && !c.localDroplets),
  }))
  .superRefine((c, ctx) => {
    for (const [path, message] of lifecycleConfigProblems(c)) ctx.addIssue({ code: 'custom', path: [path], message });
    if ((c.tlsCertFile === undefined) !== (c.tlsKeyFile === undefined)) {
      const missing = c.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'built-in TLS needs both TOOLBELT_TLS_CERT_FILE and TOOLBELT_TLS_KEY_FILE' });
    }
    if (c.leaseRenewMs * 2 > c.leaseTtlMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['leaseRenewMs'],
        message: `must be at most half of TOOLBELT_LEASE_TTL_MS (${c.leaseTtlMs}) so that a missed renewal is survived`,
      });
    }
  });
export type Config = z.infer<typeof configSchema>;

/** A configuration the operator must fix; `main` prints it and exits with status 2. */
export class ConfigError extends ToolbeltError {
  constructor(message: string, hint?: string) {
    super('CONFIG_INVALID', message, hint === undefined ? {} : { hint });
    this.name = 'ConfigError';
  }
}

/**
 * WARNING: replicas on one Postgres database must share the master key that wraps its
 * secrets; a key each generated for itself would leave every replica unable to read what the
 * others stored. So with DATABASE_URL, `local` secrets and neither TOOLBELT_MASTER_KEY nor
 * TOOLBELT_MASTER_KEY_FILE, this refuses (exit 2). PGlite belongs to one process, which keeps
 * a generated key in its data directory. Checked by what uses the key (`server`, `rotate-key`,
 * the secret store); `migrate` needs no key, so a migration job need not hold it.
 */
export function requireSharedMasterKey(config: Config): void {
  if (config.databaseUrl === undefined || config.secretsBackend !== 'local') return;
  if (config.masterKey !== undefined || config.masterKeyFile !== undefined) return;
  const { databaseUrl, masterKey, masterKeyFile, secretsBackend } = SETTINGS;
  throw new ConfigError(
    `${databaseUrl.env} is set but no secrets master key is: each replica would generate its own and could not read ` +
      `the secrets the others stored; set ${masterKey.env} (--${masterKey.flag}) or ${masterKeyFile.env} (--${masterKeyFile.flag}), ` +
      `the same on every replica`,
    `make a key with: openssl rand -base64 32 (or use ${secretsBackend.env}=vault)`,
  );
}

/** Parses flags (`--port 9000`) over environment variables into a typed config. */
export function parseConfig(argv: readonly string[], env: Record<string, string | undefined>): Config {
  const flags = parseFlags(argv);
  const raw: Record<string, string | undefined> = {};
  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, (typeof SETTINGS)[SettingName]][]) {
    raw[name] = flags[setting.flag] ?? env[setting.env];
  }
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path[0] as SettingName;
    const setting = SETTINGS[name];
    // A secret setting's value is never echoed, not even in an error.
    const shown = 'secret' in setting ? '[redacted]' : JSON.stringify(raw[name]);
    return `${setting.env} (--${setting.flag}) = ${shown}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, 'see the configuration table in README.md');
}

function parseFlags(argv: readonly string[]): Record<string, string | undefined> {
  const options = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]));
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | undefined
    >;
  } catch (cause) {
    throw new ConfigError((cause as Error).message, `known flags: ${Object.values(SETTINGS).map((s) => `--${s.flag}`).join(' ')}`);
  }
}

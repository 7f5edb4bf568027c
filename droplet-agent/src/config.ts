/**
 * The agent's configuration file (default /etc/toolbelt/agent.json), parsed once with zod
 * by `main` and passed down typed. Defaults are the real ones on a droplet.
 */
import { readFile } from 'node:fs/promises';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { z } from 'zod';

export const DEFAULT_CONFIG_PATH = '/etc/toolbelt/agent.json';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether a URL's host is the loopback interface (where plain ws:// is allowed). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

const controllerUrl = z
  .string()
  .url()
  .superRefine((value, ctx) => {
    const url = new URL(value);
    if (url.protocol === 'wss:') return;
    if (url.protocol === 'ws:' && isLoopbackHost(url.hostname)) return;
    ctx.addIssue({
      code: 'custom',
      message:
        url.protocol === 'ws:'
          ? 'plain ws:// is only allowed on loopback; use wss:// for a remote controller'
          : 'must be a wss:// URL (or ws:// on loopback)',
    });
  });

export const agentConfigSchema = z.object({
  /** The controller's agent endpoint, e.g. wss://controller.example.com/agent/v1. */
  controllerUrl,
  /**
   * PEM certificate(s) of a private CA: when set, the controller's wss:// certificate must
   * chain to it (and to nothing else); unset, the system's public CAs are trusted.
   */
  controllerCa: z.string().max(16 * 1024).regex(/-----BEGIN CERTIFICATE-----/, 'must be PEM certificates').optional(),
  /** Single-use token traded for a per-droplet credential on first connect. */
  enrollmentToken: z.string().min(16).max(512).optional(),
  /** Where the agent keeps its credential and tool records (0700). */
  stateDir: z.string().min(1).default('/var/lib/toolbelt-agent'),
  /** The Docker Engine API socket; the docker runtime is off when it does not answer. */
  dockerSocket: z.string().min(1).default('/var/run/docker.sock'),
  /**
   * Only where several agents share one engine (the simulator's local droplets): labels
   * this agent's containers so that it rediscovers only its own.
   */
  dockerScope: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).optional(),
  /** Where the droplet's name is (DigitalOcean sets the hostname to it); falls back to the OS hostname. */
  hostnameFile: z.string().default('/etc/hostname'),
  /** Turns runtimes off even when available (tests, droplets without an engine). */
  runtimes: z.array(z.enum(['docker', 'process'])).default(['docker', 'process']),
  heartbeatIntervalMs: z.number().int().min(1000).max(300_000).default(15_000),
  reconnect: z
    .object({
      initialDelayMs: z.number().int().min(1).default(1000),
      maxDelayMs: z.number().int().min(1).default(60_000),
    })
    .default({ initialDelayMs: 1000, maxDelayMs: 60_000 }),
  /** The npm client and registry used for npm_package tools and self-update. */
  npm: z
    .object({
      command: z.string().min(1).default('npm'),
      registry: z.string().url().optional(),
    })
    .default({ command: 'npm' }),
  /** Where cloud-init leaves the droplet id (DigitalOcean's instance id). */
  instanceIdFile: z.string().default('/var/lib/cloud/data/instance-id'),
  /** Lines of output kept per tool in memory. */
  logBufferLines: z.number().int().min(10).max(100_000).default(1000),
  /** Bytes of each tool output file before it is rotated (one old copy is kept). */
  logFileMaxBytes: z.number().int().min(4096).default(5 * 1024 * 1024),
  /** Self-update: releases live in `${installDir}/releases/VERSION`, `current` points at one. */
  installDir: z.string().default('/opt/toolbelt/agent'),
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

/** Parses a config object; a bad one is a ToolbeltError naming the field. */
export function parseAgentConfig(value: unknown, source = 'agent config'): AgentConfig {
  const parsed = agentConfigSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new ToolbeltError('AGENT_CONFIG_INVALID', `${source} is invalid: ${issues}`, {
    hint: 'fix the file (see docs/agent.md, "Configuration") and restart the agent',
  });
}

/** Reads and parses the config file at `path`. */
export async function loadAgentConfig(path = DEFAULT_CONFIG_PATH): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ToolbeltError('AGENT_CONFIG_UNREADABLE', `cannot read the agent config ${path}`, {
      hint: 'pass --config PATH or write the file (cloud-init does this on a droplet)',
      cause,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ToolbeltError('AGENT_CONFIG_INVALID', `${path} is not JSON`, { hint: 'fix its syntax', cause });
  }
  return parseAgentConfig(value, path);
}

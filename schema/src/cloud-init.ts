/**
 * The droplet's bootstrap: the cloud-init user_data that installs Node (checked against
 * its SHASUMS256.txt) and the agent release (checked against the SHA-256 pinned here), writes the agent's config (0600, with the single-use enrollment token — the only
 * secret user_data ever carries) and a systemd unit (Restart=always, KillMode=process so
 * that tools survive agent restarts), then starts it.
 *
 * The document is `#cloud-config` followed by JSON (YAML is a superset of JSON), so the same
 * text that cloud-init reads is machine-readable: `extractAgentBootstrap` gives back the
 * config, the pinned release and the agent's command line (local droplets boot from it).
 */
import { z } from 'zod';

/** Where things live on a droplet. */
export const DROPLET_PATHS = {
  config: '/etc/toolbelt/agent.json',
  unit: '/etc/systemd/system/toolbelt-agent.service',
  installScript: '/usr/local/lib/toolbelt/install-agent.sh',
  installDir: '/opt/toolbelt/agent',
  node: '/opt/toolbelt/node',
  stateDir: '/var/lib/toolbelt-agent',
  /** The controller's private CA (TOOLBELT_AGENT_CA_FILE), when it has one: the release download trusts it. */
  controllerCa: '/etc/toolbelt/controller-ca.pem',
} as const;

/** The agent release's file (one self-contained ES module) in each release directory. */
export const AGENT_RELEASE_FILE = 'agent.mjs';

/**
 * How long a droplet keeps trying to download its agent release (curl's `--retry-max-time`,
 * with `--retry-all-errors`: refusals and broken-off answers too): the controller serving it
 * may be restarting or failing over while droplets boot, and a droplet that gives up never
 * brings up an agent.
 */
export const RELEASE_DOWNLOAD_RETRY_MS = 10 * 60 * 1000;
const RELEASE_RETRY_SECONDS = RELEASE_DOWNLOAD_RETRY_MS / 1000;

/** cloud-init refuses user_data over 64 KiB on DigitalOcean. */
export const MAX_USER_DATA_BYTES = 64 * 1024;

/**
 * Whether a URL's hostname (as `new URL` gives it) is the loopback interface: `localhost`,
 * `[::1]` or a whole 127.x.y.z address — never a name that only starts like one
 * (`localhost.evil.com`, `127.0.0.1.evil.com`).
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(hostname);
}

/** Whether agents may dial `url`: wss://, or plain ws:// on loopback only. */
export function isAllowedAgentUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'wss:' || (parsed.protocol === 'ws:' && isLoopbackHost(parsed.hostname));
}

export const agentBootstrapOptionsSchema = z.object({
  controllerUrl: z
    .string()
    .url()
    .refine(isAllowedAgentUrl, {
      message: 'must be wss:// (ws:// only on loopback)',
    }),
  enrollmentToken: z.string().regex(/^[A-Za-z0-9._~+/=-]{16,512}$/, 'must be 16–512 token characters'),
  agentVersion: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/, 'must be a version'),
  /** Where the droplet downloads the agent release (the controller's `/agent/v1/releases/VERSION/agent.mjs`). */
  agentReleaseUrl: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u) && !/['"\\\s]/.test(u), { message: 'must be an http(s) URL without quotes or spaces' }),
  /** The release's SHA-256 (hex): the install stops when the download does not match. */
  agentReleaseSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex'),
  /**
   * PEM certificate(s) of a private CA the agent trusts — instead of the public ones — for the
   * controller's wss:// (TOOLBELT_AGENT_CA_FILE). Public data, not a secret.
   */
  controllerCa: z.string().max(16 * 1024).regex(/^-----BEGIN CERTIFICATE-----/, 'must be PEM certificates').optional(),
  /** npm registry for npm tools. */
  npmRegistry: z.string().url().optional(),
  nodeVersion: z.string().regex(/^\d+\.\d+\.\d+$/).default('22.12.0'),
  /** Where Node tarballs and SHASUMS256.txt are fetched from (nodejs.org or a mirror laid out like it). */
  nodeDistUrl: z
    .string()
    .url()
    .refine((u) => !/['"\\\s]/.test(u), { message: 'must be a URL without quotes or spaces' })
    .default('https://nodejs.org/dist'),
  dockerSocket: z.string().default('/var/run/docker.sock'),
  /** Install Debian/Ubuntu's docker.io so the docker runtime has an engine. */
  installDocker: z.boolean().default(true),
  heartbeatIntervalMs: z.number().int().min(1000).max(300_000).optional(),
});
export type AgentBootstrapOptions = z.input<typeof agentBootstrapOptionsSchema>;

/** The agent's argv as systemd runs it: the release under the droplet's own Node. */
export function agentCommand(configPath: string = DROPLET_PATHS.config): string[] {
  return [`${DROPLET_PATHS.node}/bin/node`, `${DROPLET_PATHS.installDir}/current/${AGENT_RELEASE_FILE}`, '--config', configPath];
}

/** The systemd unit of the agent. */
export function agentUnit(): string {
  return `[Unit]
Description=toolbelt droplet agent
After=network-online.target
Wants=network-online.target
# Never give up restarting: a release that crashes at start is rolled back by the self-update
# watcher (droplet-agent/src/update-trial.ts), and the agent must come back after it.
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${agentCommand().join(' ')}
Restart=always
RestartSec=2
# Stop only the agent: its tools run in their own sessions and must outlive agent restarts
# and self-updates (the next agent adopts them). Containers belong to the engine anyway.
KillMode=process
TimeoutStopSec=30
Environment=NODE_ENV=production

[Install]
WantedBy=multi-user.target
`;
}

function installScript(o: z.output<typeof agentBootstrapOptionsSchema>): string {
  return `#!/bin/sh
# Installs Node ${o.nodeVersion} and droplet agent ${o.agentVersion}, then starts the agent.
# Every line it prints goes to /var/log/cloud-init-output.log; a failure says why on one line.
set -eu
NODE_DIST='${o.nodeDistUrl}'
NODE_VERSION='${o.nodeVersion}'
RELEASE_VERSION='${o.agentVersion}'
RELEASE_URL='${o.agentReleaseUrl}'
RELEASE_SHA256='${o.agentReleaseSha256}'
NODE_DIR=${DROPLET_PATHS.node}
INSTALL_DIR=${DROPLET_PATHS.installDir}
fail() { echo "toolbelt-install: FAILED: $*" >&2; exit 1; }
arch=$(uname -m); case "$arch" in x86_64) arch=x64;; aarch64) arch=arm64;; esac
tarball="node-v$NODE_VERSION-linux-$arch.tar.xz"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  tmp=$(mktemp -d)
  curl -fsSL --retry 5 --retry-connrefused -o "$tmp/$tarball" "$NODE_DIST/v$NODE_VERSION/$tarball" || fail "cannot download Node from $NODE_DIST/v$NODE_VERSION/$tarball"
  curl -fsSL --retry 5 --retry-connrefused -o "$tmp/SHASUMS256.txt" "$NODE_DIST/v$NODE_VERSION/SHASUMS256.txt" || fail "cannot download $NODE_DIST/v$NODE_VERSION/SHASUMS256.txt"
  (cd "$tmp" && grep " $tarball$" SHASUMS256.txt | sha256sum -c -) || fail "$tarball does not match its SHA-256 in SHASUMS256.txt; not installing it"
  mkdir -p "$NODE_DIR"
  tar -xJf "$tmp/$tarball" -C "$NODE_DIR" --strip-components=1
  rm -rf "$tmp"
  echo "toolbelt-install: Node $NODE_VERSION installed"
fi
release="$INSTALL_DIR/releases/$RELEASE_VERSION"
mkdir -p "$release" ${DROPLET_PATHS.stateDir}
chmod 0700 ${DROPLET_PATHS.stateDir}
curl -fsSL --retry 30 --retry-all-errors --retry-max-time ${RELEASE_RETRY_SECONDS}${o.controllerCa ? ` --cacert ${DROPLET_PATHS.controllerCa}` : ''} -o "$release/${AGENT_RELEASE_FILE}.download" "$RELEASE_URL" || fail "cannot download the agent release from $RELEASE_URL"
got=$(sha256sum "$release/${AGENT_RELEASE_FILE}.download" | cut -d ' ' -f 1)
if [ "$got" != "$RELEASE_SHA256" ]; then
  rm -f "$release/${AGENT_RELEASE_FILE}.download"
  fail "the agent release from $RELEASE_URL has SHA-256 $got, not the pinned $RELEASE_SHA256; not installing it"
fi
mv "$release/${AGENT_RELEASE_FILE}.download" "$release/${AGENT_RELEASE_FILE}"
ln -sfn "$release" "$INSTALL_DIR/current"
echo "toolbelt-install: agent $RELEASE_VERSION installed (sha256 $got)"
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now toolbelt-agent.service
  echo "toolbelt-install: toolbelt-agent.service started"
else
  echo "toolbelt-install: systemd is not running; start the agent as the unit would: ${agentCommand().join(' ')}"
fi
`;
}

/** The agent's config file content (parsed by the agent's own schema). */
function agentConfig(o: z.output<typeof agentBootstrapOptionsSchema>): Record<string, unknown> {
  return {
    controllerUrl: o.controllerUrl,
    enrollmentToken: o.enrollmentToken,
    stateDir: DROPLET_PATHS.stateDir,
    dockerSocket: o.dockerSocket,
    installDir: DROPLET_PATHS.installDir,
    npm: { command: `${DROPLET_PATHS.node}/bin/npm`, ...(o.npmRegistry ? { registry: o.npmRegistry } : {}) },
    ...(o.heartbeatIntervalMs ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
    ...(o.controllerCa ? { controllerCa: o.controllerCa } : {}),
  };
}

/**
 * Renders the user_data for one droplet. Throws a ZodError naming the bad option, or a
 * RangeError if the document would exceed MAX_USER_DATA_BYTES.
 */
export function renderAgentUserData(options: AgentBootstrapOptions): string {
  const o = agentBootstrapOptionsSchema.parse(options);
  const document = {
    package_update: true,
    packages: ['curl', 'ca-certificates', 'xz-utils', ...(o.installDocker ? ['docker.io'] : [])],
    write_files: [
      { path: DROPLET_PATHS.config, owner: 'root:root', permissions: '0600', content: `${JSON.stringify(agentConfig(o), null, 2)}\n` },
      { path: DROPLET_PATHS.unit, owner: 'root:root', permissions: '0644', content: agentUnit() },
      { path: DROPLET_PATHS.installScript, owner: 'root:root', permissions: '0755', content: installScript(o) },
      ...(o.controllerCa ? [{ path: DROPLET_PATHS.controllerCa, owner: 'root:root', permissions: '0644', content: o.controllerCa }] : []),
    ],
    runcmd: [[DROPLET_PATHS.installScript]],
  };
  const text = `#cloud-config\n${JSON.stringify(document, null, 2)}\n`;
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_USER_DATA_BYTES) throw new RangeError(`user_data is ${bytes} bytes; the limit is ${MAX_USER_DATA_BYTES}`);
  return text;
}

/** What a bootstrap document asks a droplet to run. */
export interface AgentBootstrap {
  /** The agent config written to `configPath` (with the enrollment token). */
  config: Record<string, unknown>;
  configPath: string;
  /** The agent's argv as the unit runs it. */
  command: string[];
  /** The release the install script downloads and checks. */
  release: { version: string; url: string; sha256: string };
  /** Every file the document writes: path → content. */
  files: Record<string, string>;
}

/** Reads a document made by renderAgentUserData back; undefined if it is not one. */
export function extractAgentBootstrap(userData: string): AgentBootstrap | undefined {
  const files = writtenFiles(userData);
  const configText = files?.[DROPLET_PATHS.config];
  const unit = files?.[DROPLET_PATHS.unit];
  const release = releaseOf(files?.[DROPLET_PATHS.installScript] ?? '');
  if (!files || !configText || !unit || !release) return undefined;
  const execStart = /^ExecStart=(.+)$/m.exec(unit)?.[1];
  try {
    const config = JSON.parse(configText) as Record<string, unknown>;
    return { config, configPath: DROPLET_PATHS.config, command: execStart ? execStart.split(' ') : agentCommand(), files, release };
  } catch {
    return undefined;
  }
}

/** The files a `#cloud-config` JSON document writes (path → content); undefined for another document. */
function writtenFiles(userData: string): Record<string, string> | undefined {
  if (!userData.startsWith('#cloud-config\n')) return undefined;
  let document: { write_files?: { path?: unknown; content?: unknown }[] };
  try {
    document = JSON.parse(userData.slice('#cloud-config\n'.length)) as typeof document;
  } catch {
    return undefined;
  }
  const files: Record<string, string> = {};
  for (const file of document.write_files ?? []) {
    if (typeof file.path === 'string' && typeof file.content === 'string') files[file.path] = file.content;
  }
  return files;
}

/** The pinned release, read back from the install script's assignments. */
function releaseOf(script: string): AgentBootstrap['release'] | undefined {
  const value = (name: string) => new RegExp(`^${name}='([^']*)'$`, 'm').exec(script)?.[1];
  const [version, url, sha256] = [value('RELEASE_VERSION'), value('RELEASE_URL'), value('RELEASE_SHA256')];
  return version && url && sha256 ? { version, url, sha256 } : undefined;
}

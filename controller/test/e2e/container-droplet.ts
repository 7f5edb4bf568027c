/**
 * A droplet stand-in that runs a rendered user_data for real: a podman container of a Debian
 * userland (scripts/droplet-image.sh: debootstrap + systemd + the document's packages, all
 * from Debian's packages, cached by content) booted with **systemd as PID 1** and the host's
 * network (so the controller and the Node mirror on this machine's loopback are the
 * droplet's loopback too). `applyCloudConfig` does what cloud-init does with the document:
 * the `packages` are in the image already (apt is not what is measured), `write_files` are
 * written with their modes and owners, the instance id is where cloud-init keeps it, and the
 * `runcmd` entries run in order as root, their output kept line by line with the time each
 * line arrived (cloud-init's output log).
 *
 * Driven through the podman CLI; `podmanAvailable()` says whether it is there.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const DROPLET_IMAGE_SCRIPT = fileURLToPath(new URL('../../../scripts/droplet-image.sh', import.meta.url));

/** Containers this process started and has not removed (the leak check reads it). */
export const liveContainers = new Set<string>();

/** The part of a `#cloud-config` document this stand-in runs. */
export interface CloudConfig {
  packages: string[];
  write_files: { path: string; content: string; permissions?: string; owner?: string }[];
  runcmd: (string | string[])[];
}

/** One line a runcmd printed, with when it arrived (ms since the epoch). */
export interface OutputLine {
  at: number;
  text: string;
}

export function podmanAvailable(): boolean {
  try {
    execFileSync('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { stdio: 'ignore', timeout: 30_000 });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

/**
 * Removes droplet containers a killed test run left behind (named after its pid, which is
 * gone); containers of test processes still running are left alone.
 */
export async function sweepLeftoverDroplets(): Promise<string[]> {
  const names = textOf(await podman(['ps', '-a', '--format', '{{.Names}}', '--filter', 'name=^toolbelt-droplet-'])).split('\n');
  const stale = names.filter((name) => {
    const pid = Number(/^toolbelt-droplet-(\d+)-/.exec(name)?.[1]);
    if (!pid) return false;
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  if (stale.length) await podman(['rm', '-f', '-t', '0', ...stale]);
  return stale;
}

/** Reads a `#cloud-config` JSON document (what renderAgentUserData makes). */
export function readCloudConfig(userData: string): CloudConfig {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('not a #cloud-config document');
  const doc = JSON.parse(userData.slice('#cloud-config\n'.length)) as Partial<CloudConfig>;
  return { packages: doc.packages ?? [], write_files: doc.write_files ?? [], runcmd: doc.runcmd ?? [] };
}

/**
 * The droplet image with `packages` installed (built by apt on first use, then cached);
 * its name. Minutes the very first time on a machine (debootstrap), seconds after.
 */
export function dropletImage(packages: readonly string[]): string {
  return execFileSync('bash', [DROPLET_IMAGE_SCRIPT, ...packages], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

interface Run {
  code: number | null;
  lines: OutputLine[];
}

/** Runs `podman ARGS`, feeding `input`, collecting stdout+stderr by line as they arrive. */
function podman(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 120_000 });
    const lines: OutputLine[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      let buffer = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        for (const text of parts) lines.push({ at: Date.now(), text });
      });
      stream.on('end', () => buffer && lines.push({ at: Date.now(), text: buffer }));
    }
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines }));
    child.stdin.end(options.input ?? '');
  });
}

const textOf = (run: Run) => run.lines.map((l) => l.text).join('\n');

export class ContainerDroplet {
  private constructor(
    readonly name: string,
    /** When `podman run` was called (ms since the epoch). */
    readonly startedAt: number,
  ) {}

  /**
   * Starts `image` with systemd as PID 1 and the host's network, named after `hostname`;
   * resolves once systemd says the system is up (`running`, or `degraded` when a unit that
   * means nothing in a container failed).
   */
  static async boot(image: string, hostname: string): Promise<ContainerDroplet> {
    const name = `toolbelt-droplet-${process.pid}-${randomBytes(3).toString('hex')}`;
    const startedAt = Date.now();
    const run = await podman(['run', '-d', '--name', name, '--hostname', hostname, '--network', 'host', '--systemd', 'always', '--http-proxy=false', image, '/lib/systemd/systemd']);
    if (run.code !== 0) throw new Error(`podman run failed: ${textOf(run)}`);
    liveContainers.add(name);
    const droplet = new ContainerDroplet(name, startedAt);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const state = textOf(await droplet.exec(['systemctl', 'is-system-running'])).trim();
      if (state === 'running' || state === 'degraded') return droplet;
      if (Date.now() > deadline) throw new Error(`systemd did not come up in ${name}: ${state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Runs `argv` in the container as root. */
  exec(argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
    return podman(['exec', '-i', this.name, ...argv], options);
  }

  /** `exec`'s output as text; throws unless it exits 0. */
  async sh(script: string): Promise<string> {
    const run = await this.exec(['sh', '-c', script]);
    if (run.code !== 0) throw new Error(`${script} → ${run.code}: ${textOf(run)}`);
    return textOf(run);
  }

  /**
   * What cloud-init does with the document on first boot (its packages excepted: they are in
   * the image): the instance id (DigitalOcean's is the droplet id), `write_files`, then every
   * `runcmd` in order (as cloud-init's one runcmd script does, a failure does not stop the
   * next). Resolves with what they printed, the last one's exit code and when the first started.
   */
  async applyCloudConfig(doc: CloudConfig, instanceId: string): Promise<Run & { startedAt: number }> {
    // One shell for all of it (a `podman exec` costs a second or more on a busy machine).
    const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    const script = [
      'set -eu',
      `mkdir -p /var/lib/cloud/data && printf '%s\\n' ${quote(instanceId)} > /var/lib/cloud/data/instance-id`,
      ...doc.write_files.map((f) => {
        const path = quote(f.path);
        const body = Buffer.from(f.content).toString('base64');
        return `mkdir -p "$(dirname ${path})" && echo ${body} | base64 -d > ${path} && chmod ${quote(f.permissions ?? '0644')} ${path} && chown ${quote(f.owner ?? 'root:root')} ${path}`;
      }),
    ].join('\n');
    const written = await this.exec(['sh', '-s'], { input: `${script}\n` });
    if (written.code !== 0) throw new Error(`write_files: ${textOf(written)}`);
    const output = { code: 0 as number | null, lines: [] as OutputLine[], startedAt: Date.now() };
    for (const command of doc.runcmd) {
      const run = await this.exec(typeof command === 'string' ? ['sh', '-c', command] : command, { timeoutMs: 300_000 });
      output.lines.push(...run.lines);
      output.code = run.code;
    }
    return output;
  }

  /** Stops and removes the container (with whatever ran in it). */
  async remove(): Promise<void> {
    await podman(['rm', '-f', '-t', '0', this.name]);
    liveContainers.delete(this.name);
  }
}

/**
 * The `docker` runtime: tools as containers, through the Docker Engine API on the local
 * socket (dockerode). One supervisor per tool — the engine's restart policy
 * (`unless-stopped`); the agent never restarts a container itself, it only observes.
 */
import type { Clock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, type LogLine, type ToolRuntimeState, type ToolSpec } from '@toolbelt/schema/protocol';
import type { Endpoint } from '@toolbelt/schema/types';
import Docker from 'dockerode';
import type { ProgressFn, Runtime, RuntimeObservation, SecretEnv, ToolRecord } from '../types.ts';
import { toolEnvironment } from '../env.ts';
import { containerName, LABELS, labelsFor, recordFromLabels } from './labels.ts';
import { demuxLogs } from './logs.ts';

export interface DockerRuntimeOptions {
  socketPath: string;
  clock: Clock;
  onChange: (toolInstanceId: string) => void;
  log: (message: string) => void;
  /**
   * Set when several agents share one engine (local droplets of the simulator): this
   * agent's containers carry `toolbelt.scope=SCOPE` and their names include it, and
   * rediscovery sees only them. Unset on a real droplet, which has an engine of its own.
   */
  scope?: string | undefined;
}

const statusCode = (error: unknown): number | undefined => (error as { statusCode?: number }).statusCode;

/** Runs `action`, treating the listed HTTP statuses (304 not modified, 404 gone) as done. */
async function tolerate(action: () => Promise<unknown>, statuses: number[]): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!statuses.includes(statusCode(error) ?? 0)) throw error;
  }
}

export const imageRef = (spec: ToolSpec): string => `${spec.packageIdentifier}:${spec.version}`;

function registryOf(image: string): string {
  const first = image.split('/')[0] ?? '';
  return image.includes('/') && /[.:]|^localhost$/.test(first) ? first : 'docker.io';
}

export class DockerRuntime implements Runtime {
  readonly kind = 'docker' as const;
  readonly #docker: Docker;
  readonly #o: DockerRuntimeOptions;

  constructor(options: DockerRuntimeOptions) {
    this.#o = options;
    this.#docker = new Docker({ socketPath: options.socketPath });
  }

  #name(toolInstanceId: string): string {
    return this.#o.scope ? containerName(`${this.#o.scope}-${toolInstanceId}`) : containerName(toolInstanceId);
  }

  /** Whether the engine answers. */
  async available(): Promise<boolean> {
    try {
      await this.#docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  async discover(): Promise<ToolRecord[]> {
    const containers = await this.#docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`, ...(this.#o.scope ? [`${LABELS.scope}=${this.#o.scope}`] : [])] } });
    return containers.flatMap((c) => recordFromLabels(c.Labels, c.State === 'running') ?? []);
  }

  async install(record: ToolRecord, secrets: SecretEnv, progress: ProgressFn): Promise<void> {
    const { spec, toolInstanceId } = record;
    await this.#ensureImage(spec, secrets, progress);
    const container = this.#docker.getContainer(this.#name(toolInstanceId));
    const existing = await container.inspect().catch((error: unknown) => {
      if (statusCode(error) === 404) return undefined;
      throw error;
    });
    const wasRunning = existing?.State.Running ?? record.desired === 'running';
    if (existing) {
      progress('replacing the container of the previous generation');
      await tolerate(() => container.remove({ force: true }), [404]);
    }
    await this.#docker.createContainer(this.#createOptions(record, secrets));
    this.#o.log(`created container ${this.#name(toolInstanceId)} (generation ${record.generation})`);
    if (wasRunning && existing) await this.start(toolInstanceId);
    this.#o.onChange(toolInstanceId);
  }

  async #ensureImage(spec: ToolSpec, secrets: SecretEnv, progress: ProgressFn): Promise<void> {
    const ref = imageRef(spec);
    const present = await this.#docker.getImage(ref).inspect().then(() => true, () => false);
    if (present) return;
    progress(`pulling ${ref}`);
    const auth = spec.registryAuthSecret ? secrets[spec.registryAuthSecret] : undefined;
    const [username, ...rest] = (auth ?? '').split(':');
    const authconfig = auth ? { username, password: rest.join(':'), serveraddress: registryOf(ref) } : undefined;
    let streamError: string | undefined;
    try {
      const stream = await this.#docker.pull(ref, authconfig ? { authconfig } : {});
      await new Promise<void>((resolve, reject) =>
        this.#docker.modem.followProgress(
          stream,
          (error: Error | null) => (error ? reject(error) : resolve()),
          (event: { error?: string }) => (streamError = event.error ?? streamError),
        ),
      );
      // Some engines (podman) end a failed pull's stream without an error: check the result.
      await this.#docker.getImage(ref).inspect();
    } catch (cause) {
      throw new ToolbeltError(AGENT_ERROR_CODES.installFailed, `pulling ${ref} failed${streamError ? `: ${streamError}` : ''}`, {
        hint: 'check the image name, tag and registry credentials',
        cause,
      });
    }
  }

  #createOptions(record: ToolRecord, secrets: SecretEnv): Docker.ContainerCreateOptions {
    const { spec, toolInstanceId } = record;
    // Secret values go into the container's environment and nowhere else (not in labels). The
    // agent's own variables come last; a container listens on all of its own interfaces, and
    // its ports are published on the droplet at `hostIp`.
    const env = toolEnvironment(spec, secrets, {
      TOOLBELT_TOOL_INSTANCE_ID: toolInstanceId,
      TOOLBELT_TOOL_CONFIG: JSON.stringify(spec.config),
      ...(spec.ports[0] ? { PORT: String(spec.ports[0].port), HOST: '0.0.0.0' } : {}),
    });
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of spec.ports) {
      exposed[`${p.port}/${p.protocol}`] = {};
      bindings[`${p.port}/${p.protocol}`] = [{ HostIp: p.hostIp, HostPort: String(p.hostPort ?? p.port) }];
    }
    return {
      name: this.#name(toolInstanceId),
      Image: imageRef(spec),
      ...(spec.args.length > 0 ? { Cmd: spec.args } : {}),
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Labels: { ...labelsFor(toolInstanceId, record.generation, spec), ...(this.#o.scope ? { [LABELS.scope]: this.#o.scope } : {}) },
      ExposedPorts: exposed,
      HostConfig: {
        PortBindings: bindings,
        RestartPolicy: { Name: 'unless-stopped' },
        ...(spec.resources.memoryMb ? { Memory: spec.resources.memoryMb * 1024 * 1024 } : {}),
        ...(spec.resources.cpus ? { NanoCpus: Math.round(spec.resources.cpus * 1e9) } : {}),
      },
    };
  }

  async start(toolInstanceId: string): Promise<void> {
    await this.#wrap(AGENT_ERROR_CODES.startFailed, toolInstanceId, () =>
      tolerate(() => this.#docker.getContainer(this.#name(toolInstanceId)).start(), [304]),
    );
    this.#o.onChange(toolInstanceId);
  }

  async stop(toolInstanceId: string, timeoutMs: number): Promise<void> {
    await this.#wrap(AGENT_ERROR_CODES.stopFailed, toolInstanceId, () =>
      tolerate(() => this.#docker.getContainer(this.#name(toolInstanceId)).stop({ t: Math.ceil(timeoutMs / 1000) }), [304]),
    );
    this.#o.onChange(toolInstanceId);
  }

  async remove(toolInstanceId: string, timeoutMs: number): Promise<void> {
    const container = this.#docker.getContainer(this.#name(toolInstanceId));
    await tolerate(() => container.stop({ t: Math.ceil(timeoutMs / 1000) }), [304, 404]);
    await tolerate(() => container.remove({ force: true }), [404]);
  }

  async #wrap(code: string, toolInstanceId: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (cause) {
      if (statusCode(cause) === 404) {
        throw new ToolbeltError(AGENT_ERROR_CODES.unknownTool, `no container for tool ${toolInstanceId}`, {
          hint: 'send install first',
          cause,
        });
      }
      throw new ToolbeltError(code, `the engine refused: ${(cause as Error).message}`, { cause });
    }
  }

  async observe(toolInstanceId: string): Promise<RuntimeObservation> {
    const info = await this.#docker
      .getContainer(this.#name(toolInstanceId))
      .inspect()
      .catch((error: unknown) => {
        if (statusCode(error) === 404) return undefined;
        throw error;
      });
    if (!info) return { state: 'uninstalled', endpoints: [], restarts: 0 };
    const { state, reason } = stateOf(info.State, info.RestartCount ?? 0);
    const finished = info.State.FinishedAt && !info.State.FinishedAt.startsWith('0001') ? info.State.FinishedAt : undefined;
    return {
      state,
      endpoints: state === 'running' ? endpointsOf(info, recordFromLabels(info.Config.Labels, true)?.spec) : [],
      restarts: info.RestartCount ?? 0,
      ...(finished ? { lastExit: { code: info.State.ExitCode, signal: null, at: new Date(finished).toISOString() } } : {}),
      ...(reason ? { reason } : {}),
      runtimeId: `container ${info.Id.slice(0, 12)} (${info.Config.Image})`,
    };
  }

  async logs(toolInstanceId: string, tail: number): Promise<{ lines: LogLine[]; truncated: boolean }> {
    const raw = (await this.#docker
      .getContainer(this.#name(toolInstanceId))
      .logs({ stdout: true, stderr: true, tail, timestamps: true, follow: false })) as unknown as Buffer;
    const lines = demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).slice(-tail);
    return { lines, truncated: lines.length >= tail };
  }

  async close(): Promise<void> {}
}

function stateOf(s: Docker.ContainerInspectInfo['State'], restarts: number): { state: ToolRuntimeState; reason?: string } {
  if (s.Running && !s.Restarting) return { state: 'running' };
  if (s.Restarting) return restarts >= 3 ? { state: 'crash_loop', reason: `restarted ${restarts} times by the engine` } : { state: 'starting' };
  if (s.Status === 'created' || s.Status === 'configured') return { state: 'installed' };
  if (s.Status === 'dead' || s.OOMKilled) return { state: 'error', reason: s.OOMKilled ? 'killed: out of memory' : s.Error || 'dead' };
  return exitedState(s.ExitCode);
}

/** 0, 137 and 143 (SIGKILL/SIGTERM: our stop) are a stop; other codes are failures. */
function exitedState(code: number): { state: ToolRuntimeState; reason?: string } {
  return [0, 137, 143].includes(code) ? { state: 'stopped' } : { state: 'error', reason: `exited with code ${code}` };
}

function endpointsOf(info: Docker.ContainerInspectInfo, spec: ToolSpec | undefined): Endpoint[] {
  if (!spec || spec.transport === 'none' || spec.transport === 'mcp-stdio') return [];
  const path = spec.transport === 'mcp-http' ? spec.mcpPath : '/';
  const ports = info.NetworkSettings.Ports ?? {};
  return spec.ports.flatMap((p) =>
    (ports[`${p.port}/${p.protocol}`] ?? []).map((b) => ({
      host: !b.HostIp || b.HostIp === '0.0.0.0' ? '127.0.0.1' : b.HostIp,
      port: Number(b.HostPort),
      path,
      transport: spec.transport,
    })),
  );
}

/**
 * The `process` runtime: tools run as supervised child processes, notably npm packages
 * installed into a per-tool directory (`STATE/tools/ID/pkg`) and run from their bin, with a
 * working directory per tool and stdout/stderr captured to bounded files.
 */
import { rm } from 'node:fs/promises';
import type { Clock } from '@toolbelt/schema/clock';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { AGENT_ERROR_CODES, type LogLine } from '@toolbelt/schema/protocol';
import type { Endpoint } from '@toolbelt/schema/types';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { FileTail, LogBuffer, logLine } from '../../logs.ts';
import type { ProgressFn, Runtime, RuntimeObservation, SecretEnv, SecretFetcher, ToolRecord } from '../types.ts';
import { installPackage, type NpmOptions, resolveBin } from './npm.ts';
import { type ProcessRecord, readRecords, toolPaths } from './records.ts';
import { DEFAULT_RESTART_POLICY, ProcessSupervisor, type RestartPolicy } from './supervisor.ts';

export interface ProcessRuntimeOptions {
  stateDir: string;
  clock: Clock;
  npm: NpmOptions;
  fetchSecrets: SecretFetcher;
  onChange: (toolInstanceId: string) => void;
  log: (message: string) => void;
  restart?: Partial<RestartPolicy>;
  logCapacity?: number;
  logFileMaxBytes?: number;
  /** How often output files are read into the buffers. */
  logPollMs?: number;
}

interface ToolLogs {
  buffer: LogBuffer;
  tails: { stream: LogLine['stream']; tail: FileTail }[];
}

/** Endpoints a tool with this spec listens on (loopback; the process binds them itself). */
function endpointsOf(record: ProcessRecord): Endpoint[] {
  const { transport, ports, mcpPath } = record.spec;
  if (transport === 'none' || transport === 'mcp-stdio') return [];
  const path = transport === 'mcp-http' ? mcpPath : '/';
  return ports.map((p) => ({ host: '127.0.0.1', port: p.port, path, transport }));
}

export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  readonly #o: Required<Omit<ProcessRuntimeOptions, 'restart'>> & { restart: RestartPolicy };
  readonly #supervisors = new Map<string, ProcessSupervisor>();
  readonly #logs = new Map<string, ToolLogs>();
  readonly #ticker = new AbortController();
  #tickerRunning = false;

  constructor(options: ProcessRuntimeOptions) {
    this.#o = {
      logCapacity: 1000,
      logFileMaxBytes: 5 * 1024 * 1024,
      logPollMs: 1000,
      ...options,
      restart: { ...DEFAULT_RESTART_POLICY, ...options.restart },
    };
  }

  async discover(): Promise<ToolRecord[]> {
    const records = await readRecords(this.#o.stateDir, (id, error) =>
      this.#o.log(`ignoring the unreadable record of tool ${id}: ${(error as Error).message}`),
    );
    for (const record of records) {
      if (this.#supervisors.has(record.toolInstanceId)) continue;
      const supervisor = this.#supervise(record);
      await this.#openLogs(record.toolInstanceId, true);
      await supervisor.attach();
    }
    this.#startTicker();
    return [...this.#supervisors.values()].map(({ record }) => ({
      toolInstanceId: record.toolInstanceId,
      generation: record.generation,
      spec: record.spec,
      desired: record.desired,
    }));
  }

  #supervise(record: ProcessRecord): ProcessSupervisor {
    const supervisor = new ProcessSupervisor({
      stateDir: this.#o.stateDir,
      record,
      clock: this.#o.clock,
      restart: this.#o.restart,
      fetchSecrets: this.#o.fetchSecrets,
      onChange: () => this.#o.onChange(record.toolInstanceId),
      log: this.#o.log,
    });
    this.#supervisors.set(record.toolInstanceId, supervisor);
    return supervisor;
  }

  async install(record: ToolRecord, _secrets: SecretEnv, progress: ProgressFn): Promise<void> {
    const existing = this.#supervisors.get(record.toolInstanceId);
    const wasRunning = existing?.record.desired === 'running';
    if (existing && existing.state !== 'stopped' && existing.state !== 'installing') await existing.stop(30_000);
    existing?.close();
    const paths = toolPaths(this.#o.stateDir, record.toolInstanceId);
    const next: ProcessRecord = {
      toolInstanceId: record.toolInstanceId,
      generation: record.generation,
      spec: record.spec,
      desired: existing ? (wasRunning ? 'running' : 'stopped') : record.desired,
      installed: false,
      restarts: 0,
      ...(existing?.record.lastExit ? { lastExit: existing.record.lastExit } : {}),
    };
    const supervisor = this.#supervise(next);
    await supervisor.persist();
    await this.#openLogs(record.toolInstanceId, false);
    progress(`installing ${record.spec.packageIdentifier}@${record.spec.version} with npm`);
    await installPackage(this.#o.npm, paths.pkg, record.spec.packageIdentifier, record.spec.version);
    // Installed means runnable: the package is there and has the bin the spec asks for.
    await resolveBin(paths.pkg, record.spec.packageIdentifier, record.spec.bin);
    next.installed = true;
    await supervisor.persist();
    if (wasRunning) await supervisor.start();
    else this.#o.onChange(record.toolInstanceId);
    this.#startTicker();
  }

  #get(toolInstanceId: string): ProcessSupervisor {
    const supervisor = this.#supervisors.get(toolInstanceId);
    if (!supervisor) {
      throw new ToolbeltError(AGENT_ERROR_CODES.unknownTool, `no process tool ${toolInstanceId} on this droplet`, {
        hint: 'send install first',
      });
    }
    return supervisor;
  }

  async start(toolInstanceId: string, secrets: SecretEnv): Promise<void> {
    const supervisor = this.#get(toolInstanceId);
    if (Object.keys(secrets).length > 0) supervisor.setSecrets(secrets);
    await supervisor.start();
  }

  async stop(toolInstanceId: string, timeoutMs: number): Promise<void> {
    await this.#get(toolInstanceId).stop(timeoutMs);
  }

  async remove(toolInstanceId: string, timeoutMs: number): Promise<void> {
    const supervisor = this.#supervisors.get(toolInstanceId);
    if (supervisor) {
      await supervisor.stop(timeoutMs);
      supervisor.close();
      this.#supervisors.delete(toolInstanceId);
    }
    this.#logs.delete(toolInstanceId);
    await rm(toolPaths(this.#o.stateDir, toolInstanceId).dir, { recursive: true, force: true });
  }

  async observe(toolInstanceId: string): Promise<RuntimeObservation> {
    const supervisor = this.#get(toolInstanceId);
    const { record } = supervisor;
    return {
      state: supervisor.state,
      endpoints: supervisor.state === 'running' ? endpointsOf(record) : [],
      restarts: record.restarts,
      ...(record.lastExit ? { lastExit: record.lastExit } : {}),
      ...(supervisor.reason ? { reason: supervisor.reason } : {}),
      ...(record.pid ? { runtimeId: `pid ${record.pid}` } : {}),
    };
  }

  async logs(toolInstanceId: string, tail: number): Promise<{ lines: LogLine[]; truncated: boolean }> {
    this.#get(toolInstanceId);
    const logs = this.#logs.get(toolInstanceId);
    if (!logs) return { lines: [], truncated: false };
    await this.#pollLogs(logs);
    return logs.buffer.tail(tail);
  }

  stdioTransport(toolInstanceId: string): Transport | undefined {
    return this.#supervisors.get(toolInstanceId)?.channel?.transport();
  }

  async close(): Promise<void> {
    this.#ticker.abort();
    for (const supervisor of this.#supervisors.values()) supervisor.close();
    this.#supervisors.clear();
  }

  async #openLogs(toolInstanceId: string, backfill: boolean): Promise<void> {
    if (this.#logs.has(toolInstanceId)) return;
    const paths = toolPaths(this.#o.stateDir, toolInstanceId);
    const tails = [
      { stream: 'stdout' as const, tail: new FileTail(paths.stdoutLog, this.#o.logFileMaxBytes) },
      { stream: 'stderr' as const, tail: new FileTail(paths.stderrLog, this.#o.logFileMaxBytes) },
    ];
    if (backfill) for (const { tail } of tails) await tail.seekTail(64 * 1024);
    this.#logs.set(toolInstanceId, { buffer: new LogBuffer(this.#o.logCapacity), tails });
  }

  async #pollLogs(logs: ToolLogs): Promise<void> {
    const now = new Date(this.#o.clock.now());
    for (const { stream, tail } of logs.tails) {
      for (const text of await tail.poll()) logs.buffer.push(logLine(stream, text, now));
    }
  }

  #startTicker(): void {
    if (this.#tickerRunning) return;
    this.#tickerRunning = true;
    void (async () => {
      while (!this.#ticker.signal.aborted) {
        for (const logs of this.#logs.values()) await this.#pollLogs(logs).catch(() => {});
        await this.#o.clock.sleep(this.#o.logPollMs, this.#ticker.signal).catch(() => {});
      }
    })();
  }
}

/**
 * What the tool manager needs from a runtime. A runtime owns the truth about its tools: it
 * rediscovers them from the engine (docker labels) or from its own records (process), so
 * the agent never depends on memory that a restart would lose.
 */
import type { Endpoint } from '@toolbelt/schema/types';
import type { LogLine, ToolRuntimeState, ToolSpec } from '@toolbelt/schema/protocol';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

export type RuntimeKind = 'docker' | 'process';
export type DesiredState = 'running' | 'stopped';

/** One tool instance as a runtime knows it: the spec it was made from, never a secret. */
export interface ToolRecord {
  toolInstanceId: string;
  generation: number;
  spec: ToolSpec;
  desired: DesiredState;
}

/** Secret environment values, held in memory only. WARNING: never log or persist. */
export type SecretEnv = Readonly<Record<string, string>>;

/** What the runtime observed of one tool just now. */
export interface RuntimeObservation {
  state: ToolRuntimeState;
  endpoints: Endpoint[];
  restarts: number;
  lastExit?: { code: number | null; signal: string | null; at: string };
  reason?: string;
  runtimeId?: string;
}

/** Reports progress of a long step (pulling, npm install) as a command `progress` result. */
export type ProgressFn = (message: string) => void;

/** Fetches secret values for a tool over the socket (waits for a connection). */
export type SecretFetcher = (toolInstanceId: string, names: string[]) => Promise<SecretEnv>;

export interface Runtime {
  readonly kind: RuntimeKind;
  /** Every tool this runtime has, rediscovered from the runtime itself. */
  discover(): Promise<ToolRecord[]>;
  /**
   * Makes the tool exist at the record's generation (image pulled / package installed,
   * container or record created) without starting it. Replaces an older generation.
   */
  install(record: ToolRecord, secrets: SecretEnv, progress: ProgressFn): Promise<void>;
  /** Runs the tool; a running tool is left alone. */
  start(toolInstanceId: string, secrets: SecretEnv): Promise<void>;
  /** Stops the tool (SIGTERM, then SIGKILL after `timeoutMs`); a stopped tool is left alone. */
  stop(toolInstanceId: string, timeoutMs: number): Promise<void>;
  /** Stops and deletes everything of the tool; a missing tool is not an error. */
  remove(toolInstanceId: string, timeoutMs: number): Promise<void>;
  observe(toolInstanceId: string): Promise<RuntimeObservation>;
  /** The last `tail` lines of output. */
  logs(toolInstanceId: string, tail: number): Promise<{ lines: LogLine[]; truncated: boolean }>;
  /** For mcp-stdio tools: an MCP transport over the stdio pipe the agent owns. */
  stdioTransport?(toolInstanceId: string): Transport | undefined;
  /** Stops supervising (the agent is going away); the tools keep running. */
  close(): Promise<void>;
}

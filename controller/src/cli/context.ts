/**
 * What every CLI command is given: its arguments, the API client, the output streams, and
 * the error type whose exit code says what happened (0 ok, 1 failed, 2 usage).
 */
import type { ApiClient } from './client.ts';

export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

export interface CommandContext extends CliIo {
  /** Arguments after the command name, global flags removed. */
  args: string[];
  /** The API client (created lazily: `server`, `migrate` and usage errors need none). */
  client(): ApiClient;
  /** `-o json|yaml|table`. */
  output: 'table' | 'json' | 'yaml';
  /** Aborted on SIGINT/SIGTERM: long waits and streams stop. */
  signal: AbortSignal;
  print(line?: string): void;
}

/** A failure the CLI reports on stderr and exits with (1: failed, 2: usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    readonly lines: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string, usage?: string): CliError =>
  new CliError(message, 2, usage ? [`usage: ${usage}`] : []);

/**
 * Runs the real controller as a child process (`node --import tsx controller/src/main.ts`)
 * and reads its JSON log lines. A controller a test leaves running fails it (leaks.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { trackChild } from './leaks.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/**
 * The secrets master key every controller started here gets unless `env` says otherwise: one
 * for the whole test file, so that replicas on one Postgres database share it as deployed
 * ones must (a controller on Postgres without a key refuses to start).
 */
export const TEST_MASTER_KEY = randomBytes(32).toString('base64');

export interface ControllerProcess {
  child: ChildProcess;
  /** Every log line so far, parsed (lines that are not JSON are kept as `{ raw }`). */
  lines: Record<string, unknown>[];
  /** Resolves with the URL once the controller says it serves; rejects if it exits first. */
  ready: Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `entry`: the argv before `args` (default: the source under tsx; the build test runs dist's bundle). */
export function startControllerProcess(
  args: string[],
  env: Record<string, string | undefined> = {},
  entry: readonly string[] = ['--import', 'tsx', MAIN],
): ControllerProcess {
  const child = trackChild(
    spawn(process.execPath, [...entry, ...args], {
      // One master key for every controller of the test run: replicas on one database share it.
      env: { ...process.env, LOG_FORMAT: 'json', DATABASE_URL: '', TOOLBELT_MASTER_KEY: TEST_MASTER_KEY, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    'a controller process',
  );
  const lines: Record<string, unknown>[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    const onLine = (line: string) => {
      if (!line.trim()) return;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { raw: line };
      }
      lines.push(parsed);
      if (typeof parsed.msg === 'string' && parsed.msg.startsWith('toolbelt controller serving on')) {
        resolve(parsed.url as string);
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffer = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        parts.forEach(onLine);
      });
    }
    void exited.then((code) => reject(new Error(`controller exited (${code}) before serving: ${JSON.stringify(lines)}`)));
  });
  ready.catch(() => {});
  return {
    child,
    lines,
    ready,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Runs the real `toolbelt` binary (controller/bin/toolbelt.mjs) as a child process and
 * collects its output and exit code. Long-running invocations (`--follow`, `server`) are
 * started with `spawnToolbelt` and watched line by line. One a test leaves running fails it
 * (test/support/leaks.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackChild } from '../support/leaks.ts';

export const BIN = fileURLToPath(new URL('../../bin/toolbelt.mjs', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Spawned {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves once a stdout or stderr line matches. */
  waitFor(pattern: RegExp): Promise<string>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function baseEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return { ...process.env, NO_PROXY: '127.0.0.1,localhost', TOOLBELT_TOKEN: '', TOOLBELT_SERVER: '', LOG_FORMAT: 'json', ...env };
}

export function spawnToolbelt(args: string[], env: Record<string, string | undefined> = {}): Spawned {
  const child = trackChild(spawn(process.execPath, [BIN, ...args], { env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'] }), `toolbelt ${args.join(' ')}`);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const collect = (stream: NodeJS.ReadableStream, into: string[]) => {
    let buffer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        into.push(line);
        for (const w of [...waiters]) {
          if (!w.pattern.test(line)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  };
  collect(child.stdout!, stdout);
  collect(child.stderr!, stderr);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout,
    stderr,
    exited,
    waitFor(pattern) {
      const seen = [...stdout, ...stderr].find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then(() => reject(new Error(`toolbelt exited before printing ${pattern}: ${[...stdout, ...stderr].join('\n')}`)));
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `toolbelt ARGS` to completion, feeding `stdin` if given. */
export async function toolbelt(args: string[], options: { env?: Record<string, string | undefined>; stdin?: string } = {}): Promise<RunResult> {
  const run = spawnToolbelt(args, options.env);
  run.child.stdin!.end(options.stdin ?? '');
  const code = await run.exited;
  // Let the last chunks of output arrive.
  await new Promise((r) => setImmediate(r));
  return { code, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n') };
}

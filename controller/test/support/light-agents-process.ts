/**
 * The parent's side of `light-agents.ts`: forks it (with tsx) and talks to it over IPC. One a
 * test leaves running fails it (leaks.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackChild } from './leaks.ts';
import type { LightAgentsReport, LightAgentsStart } from './light-agents.ts';

const SCRIPT = fileURLToPath(new URL('./light-agents.ts', import.meta.url));

export class LightAgentsProcess {
  readonly #child: ChildProcess;
  #queue: Promise<unknown> = Promise.resolve();
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.#child = trackChild(child, 'a light-agents process');
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Forks a process running `options.tokens.length` light agents against `options.url`. */
  static async start(options: Omit<LightAgentsStart, 'type'>): Promise<LightAgentsProcess> {
    const child = fork(SCRIPT, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const process = new LightAgentsProcess(child);
    await process.#request({ type: 'start', ...options }, 'started');
    return process;
  }

  report(): Promise<LightAgentsReport> {
    return this.#request({ type: 'report' }, 'report') as Promise<LightAgentsReport>;
  }

  /** Starts a new period: `welcomedSinceMark` and `dialsSinceMark` count from now. */
  async mark(): Promise<void> {
    await this.#request({ type: 'mark' }, 'marked');
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    await Promise.race([this.#request({ type: 'stop' }, 'stopped'), this.exited]);
    await this.exited;
  }

  #request(message: object, answer: string): Promise<unknown> {
    const next = this.#queue.then(
      () =>
        new Promise((resolve, reject) => {
          const onMessage = (reply: { type: string }) => {
            if (reply.type !== answer) return;
            this.#child.off('message', onMessage);
            resolve(reply);
          };
          this.#child.on('message', onMessage);
          this.#child.send(message, (error) => error && reject(error));
        }),
    );
    this.#queue = next.catch(() => {});
    return next;
  }
}

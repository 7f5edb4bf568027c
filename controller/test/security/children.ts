/**
 * A test's helper processes (`fork` with tsx, talked to over IPC): ask, await the answer of
 * a type, stop. One a test leaves running fails it (test/support/leaks.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { trackChild } from '../support/leaks.ts';

export class Child<Report> {
  readonly #child: ChildProcess;
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.#child = trackChild(child, 'a helper process');
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Forks `script` and sends it `start`, resolving once it answers `started`. */
  static async start<R>(script: string, start: object): Promise<Child<R>> {
    const child = new Child<R>(fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await child.request({ type: 'start', ...start }, 'started');
    return child;
  }

  report(): Promise<Report> {
    return this.request({ type: 'report' }, 'report') as Promise<Report>;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    await Promise.race([this.request({ type: 'stop' }, 'stopped'), this.exited]);
    await this.exited;
  }

  request(message: object, answer: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: { type: string }) => {
        if (reply.type !== answer) return;
        this.#child.off('message', onMessage);
        resolve(reply);
      };
      this.#child.on('message', onMessage);
      this.#child.send(message, (error) => error && reject(error));
    });
  }
}

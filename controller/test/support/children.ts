/**
 * A test's helper processes (`fork` with tsx, talked to over IPC — the light agents, the
 * flooder): start, ask and await the answer of a type, one request at a time, stop. One a
 * test leaves running fails it (leaks.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { trackChild } from './leaks.ts';

export class Child<Report> {
  readonly #child: ChildProcess;
  /** The request in flight: the next waits for it, so an answer never settles the wrong one. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, what: string) {
    this.#child = trackChild(child, what);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Forks `script` (`what` names it in a leak) and sends it `start`, resolving once it answers `started`. */
  static async start<R>(script: string, start: object, what = 'a helper process'): Promise<Child<R>> {
    const child = new Child<R>(fork(script, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), what);
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

  /** Sends `message` once the request before it was answered; resolves with the first reply of type `answer`. */
  request(message: object, answer: string): Promise<unknown> {
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

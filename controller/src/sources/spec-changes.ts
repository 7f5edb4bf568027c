/**
 * Spec changes from every replica, through Postgres: API writers call
 * `notifySpecChange(tx, { kind, key })` in the transaction of their write; this component
 * LISTENs on `SPEC_CHANNEL` and enqueues `key` for `kind`. It is leader-only: followers'
 * queues do not run, and a new leader starts with a resync of everything anyway.
 */
import { type Database, parseSpecChange, SPEC_CHANNEL, systemClock } from '@toolbelt/schema';
import type { Component } from '../component.ts';
import type { Logger } from '../logger.ts';
import type { KeySink } from '../loop/runner.ts';

export interface SpecChangeSourceOptions {
  database: Pick<Database, 'listen'>;
  sink: KeySink;
  logger: Logger;
  /** The channel (default `SPEC_CHANNEL`). */
  channel?: string;
  /** The work queue's `source` label for what arrives (default `spec`). */
  source?: string;
  /** How long `stop` waits for UNLISTEN before giving up on it (default 1 s). */
  stopTimeoutMs?: number;
}

export class SpecChangeSource implements Component {
  readonly name = 'spec-changes';
  readonly needsLeadership = true;
  readonly #options: SpecChangeSourceOptions;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: SpecChangeSourceOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const channel = this.#options.channel ?? SPEC_CHANNEL;
    this.#unlisten = await this.#options.database.listen(channel, (payload) => this.#receive(payload));
  }

  async stop(): Promise<void> {
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    if (!unlisten) return;
    // Stopping must not hang on an unreachable database (a leader losing its lease stops now).
    const timer = new AbortController();
    await Promise.race([
      unlisten().catch((error: unknown) => this.#options.logger.warn({ err: error }, 'UNLISTEN failed')),
      systemClock.sleep(this.#options.stopTimeoutMs ?? 1_000, timer.signal).catch(() => {}),
    ]);
    timer.abort();
  }

  #receive(payload: string): void {
    if (!this.#unlisten) return;
    const change = parseSpecChange(payload);
    if (!change) {
      this.#options.logger.warn({ payload: payload.slice(0, 200) }, 'ignored a spec-change notification that is not kind:key');
      return;
    }
    if (!this.#options.sink.hasKind(change.kind)) {
      this.#options.logger.debug({ kind: change.kind }, 'spec change for a kind with no reconciler here');
      return;
    }
    this.#options.sink.enqueue(change.kind, change.key, { source: this.#options.source ?? 'spec' });
  }
}

/**
 * Every long-running part of the controller is a component (STYLE.md lesson 5): the HTTP
 * API, the agent hub and webhook intake run on every replica; reconcilers only on the leader.
 */
import type { Logger } from './logger.ts';

export interface Component {
  readonly name: string;
  /** Whether it runs only while this replica holds the leader lease. */
  readonly needsLeadership: boolean;
  /** Starts the component; resolves once it is serving. `signal` aborts on shutdown. */
  start(signal: AbortSignal): Promise<void>;
  /** Stops it, letting work in flight finish; must be safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts components in order and stops them in reverse. If one fails to start, the ones
 * already started are stopped before the error is rethrown.
 */
export class ComponentSet {
  readonly #started: Component[] = [];
  readonly #abort = new AbortController();

  constructor(private readonly logger: Logger) {}

  async start(components: readonly Component[]): Promise<void> {
    for (const component of components) {
      try {
        await component.start(this.#abort.signal);
      } catch (error) {
        await this.stop();
        throw error;
      }
      this.#started.push(component);
      this.logger.debug({ component: component.name }, 'component started');
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort(new Error('shutting down'));
    while (this.#started.length > 0) {
      const component = this.#started.pop()!;
      try {
        await component.stop();
      } catch (error) {
        this.logger.error({ err: error, component: component.name }, 'component failed to stop cleanly');
      }
    }
  }
}

/**
 * The parent's side of `light-agents.ts`: a helper process (children.ts) running that many
 * light agents. One a test leaves running fails it (leaks.ts).
 */
import { fileURLToPath } from 'node:url';
import { Child } from './children.ts';
import type { LightAgentsReport, LightAgentsStart } from './light-agents.ts';

const SCRIPT = fileURLToPath(new URL('./light-agents.ts', import.meta.url));

export class LightAgentsProcess {
  private constructor(private readonly child: Child<LightAgentsReport>) {}

  /** Forks a process running `options.tokens.length` light agents against `options.url`. */
  static async start(options: Omit<LightAgentsStart, 'type'>): Promise<LightAgentsProcess> {
    return new LightAgentsProcess(await Child.start<LightAgentsReport>(SCRIPT, options, 'a light-agents process'));
  }

  report(): Promise<LightAgentsReport> {
    return this.child.report();
  }

  /** Starts a new period: `welcomedSinceMark` and `dialsSinceMark` count from now. */
  async mark(): Promise<void> {
    await this.child.request({ type: 'mark' }, 'marked');
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

/**
 * Masks secret values in whatever the agent reports of its tools (their output lines, the
 * reason a tool is in error, command failures, health messages): a tool that prints its own
 * secret, or crashes with it in a stack trace, must not hand it to everyone who may read the
 * tool's status. The values come from the secret broker as the agent fetches them (memory
 * only). A tool that has secrets the agent has not fetched since it started (an adopted
 * process after an agent restart) cannot be masked: its output is withheld instead
 * (`canMask` is false) until the values are fetched again.
 * Every value is replaced as written, JSON-escaped and URL-encoded; the lines of a multi-line
 * value each on their own (a PEM key printed line by line).
 */
import type { LogLine } from '@toolbelt/schema/protocol';

/** What replaces a secret value. */
export const MASK = '***';
/** Lines of a multi-line value shorter than this are not masked on their own (`-----`, blank). */
const MIN_LINE = 6;

export class SecretMask {
  readonly #values = new Map<string, string[]>();
  #patterns: string[] = [];

  /** Remembers a tool's secret values (replacing what was known of it). */
  remember(toolInstanceId: string, values: Record<string, string>): void {
    this.#values.set(toolInstanceId, Object.values(values).filter((v) => v.length > 0));
    this.#rebuild();
  }

  forget(toolInstanceId: string): void {
    if (this.#values.delete(toolInstanceId)) this.#rebuild();
  }

  /** Whether the tool's output can be masked: it has no secrets, or the agent holds their values. */
  canMask(toolInstanceId: string, secretNames: readonly string[]): boolean {
    return secretNames.length === 0 || this.#values.has(toolInstanceId);
  }

  /** The text with every known secret value replaced by MASK. */
  text(text: string): string {
    let out = text;
    for (const pattern of this.#patterns) if (out.includes(pattern)) out = out.split(pattern).join(MASK);
    return out;
  }

  lines(lines: readonly LogLine[]): LogLine[] {
    return lines.map((line) => ({ ...line, text: this.text(line.text) }));
  }

  #rebuild(): void {
    const patterns = new Set<string>();
    for (const values of this.#values.values()) {
      for (const value of values) {
        patterns.add(value);
        patterns.add(JSON.stringify(value).slice(1, -1));
        patterns.add(encodeURIComponent(value));
        for (const line of value.split(/\r?\n/)) if (line.trim().length >= MIN_LINE) patterns.add(line.trim());
      }
    }
    // Longest first, so a value is masked whole before any of its lines.
    this.#patterns = [...patterns].filter((p) => p.length > 0).sort((a, b) => b.length - a.length);
  }
}

/**
 * Tool output: a bounded in-memory buffer per tool, filled by tailing the tool's output
 * files. The files themselves are bounded too (copy-truncate rotation keeps one old copy),
 * so neither memory nor disk grows without limit, and a restarted agent refills its buffer
 * from the files.
 */
import { copyFile, open, stat, truncate } from 'node:fs/promises';
import { MAX_LOG_LINE_CHARS, type LogLine } from '@toolbelt/schema/protocol';

/** A ring of the last `capacity` lines. */
export class LogBuffer {
  readonly #capacity: number;
  #lines: LogLine[] = [];
  #dropped = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(line: LogLine): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity * 2) this.#compact();
  }

  #compact(): void {
    const excess = this.#lines.length - this.#capacity;
    if (excess <= 0) return;
    this.#lines = this.#lines.slice(excess);
    this.#dropped += excess;
  }

  /** The last `n` lines, and whether older lines were dropped. */
  tail(n: number): { lines: LogLine[]; truncated: boolean } {
    this.#compact();
    const lines = this.#lines.slice(-n);
    return { lines, truncated: this.#dropped > 0 || lines.length < this.#lines.length };
  }
}

/** Cuts a line to the protocol's limit. */
export function logLine(stream: LogLine['stream'], text: string, at: Date): LogLine {
  return { at: at.toISOString(), stream, text: text.length > MAX_LOG_LINE_CHARS ? text.slice(0, MAX_LOG_LINE_CHARS) : text };
}

/**
 * Follows one output file: `poll()` reads what was appended since the last call and returns
 * complete lines; when the file passes `maxBytes` it is copied to `PATH.1` and truncated
 * (the writer holds it with O_APPEND, so it continues at the new end).
 */
export class FileTail {
  readonly #path: string;
  readonly #maxBytes: number;
  #offset = 0;
  #partial = '';

  constructor(path: string, maxBytes: number) {
    this.#path = path;
    this.#maxBytes = maxBytes;
  }

  /** Starts from the last `lastBytes` of the file (a restarted agent's backfill). */
  async seekTail(lastBytes: number): Promise<void> {
    const size = await this.#size();
    this.#offset = Math.max(0, size - lastBytes);
    this.#partial = '';
    if (this.#offset > 0) this.#partial = '\u0000'; // drop the first, cut line
  }

  async poll(): Promise<string[]> {
    const size = await this.#size();
    if (size < this.#offset) this.#offset = 0; // truncated by someone else
    if (size === this.#offset) return [];
    const handle = await open(this.#path, 'r');
    let text: string;
    try {
      const length = Math.min(size - this.#offset, 4 * 1024 * 1024);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.#offset);
      this.#offset += bytesRead;
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
    const parts = (this.#partial + text).split('\n');
    this.#partial = parts.pop() ?? '';
    if (parts[0]?.startsWith('\u0000')) parts.shift();
    await this.#rotateIfLarge(size);
    return parts;
  }

  async #rotateIfLarge(size: number): Promise<void> {
    if (size <= this.#maxBytes || this.#offset < size) return;
    await copyFile(this.#path, `${this.#path}.1`);
    await truncate(this.#path, 0);
    this.#offset = 0;
  }

  async #size(): Promise<number> {
    try {
      return (await stat(this.#path)).size;
    } catch {
      return 0;
    }
  }
}

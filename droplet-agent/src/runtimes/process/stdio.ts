/**
 * The stdio pipe of an mcp-stdio tool, owned by the agent — and surviving it.
 *
 * A stdio MCP server has exactly one client: whoever holds its stdin and stdout. If those
 * were pipes to the agent, killing the agent would close them and the server would exit
 * (EOF on stdin) — restarting the agent would restart the tools. Instead each tool gets two
 * FIFOs in its directory. The tool opens both read-write (so it always holds a writer of its
 * own stdin and a reader of its own stdout: no EOF, no SIGPIPE while the agent is away), and
 * the agent (re)opens the other ends whenever it starts. The agent is therefore the single
 * client of the server; it multiplexes nothing, but lends the pipe to one MCP session at a
 * time (`StdioChannel.transport()`), which the health check uses.
 */
import { execFileSync } from 'node:child_process';
import { constants, existsSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ToolPaths } from './records.ts';

/** Creates the tool's FIFOs if missing and opens the ends the tool inherits (fd numbers). */
export function openToolEnds(paths: ToolPaths): { stdin: number; stdout: number } {
  for (const fifo of [paths.stdinFifo, paths.stdoutFifo]) {
    // Node has no mkfifo(3); coreutils' mkfifo is on every Debian/Ubuntu droplet.
    if (!existsSync(fifo)) execFileSync('mkfifo', ['-m', '600', fifo]);
  }
  // O_RDWR on a FIFO never blocks and makes the holder both reader and writer (see above).
  return { stdin: openSync(paths.stdinFifo, 'r+'), stdout: openSync(paths.stdoutFifo, 'r+') };
}

/** The agent's ends of a tool's stdio FIFOs. */
export class StdioChannel {
  readonly #writer: Socket;
  readonly #reader: Socket;
  #buffer = new ReadBuffer();
  #session: ChannelTransport | undefined;
  #closed = false;

  /** Opens the agent's ends; the tool (or its FIFO fds) must already hold the other ends. */
  constructor(paths: ToolPaths) {
    const writeFd = openSync(paths.stdinFifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const readFd = openSync(paths.stdoutFifo, constants.O_RDONLY | constants.O_NONBLOCK);
    this.#writer = new Socket({ fd: writeFd, readable: false, writable: true });
    this.#reader = new Socket({ fd: readFd, readable: true, writable: false });
    this.#writer.on('error', (error) => this.#session?.fail(error));
    this.#reader.on('error', (error) => this.#session?.fail(error));
    this.#reader.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  #onData(chunk: Buffer): void {
    try {
      this.#buffer.append(chunk);
    } catch {
      return; // over the buffer's bound: it cleared itself; later lines resynchronise
    }
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.#buffer.readMessage();
      } catch {
        // A line that is not JSON-RPC (left over from an earlier session, or noise): skip it.
        continue;
      }
      if (message === null) return;
      // Without a session, output (e.g. notifications) is drained and dropped.
      this.#session?.deliver(message);
    }
  }

  /**
   * An MCP transport over the pipe for one session. Only one at a time: a second call
   * while one is open returns undefined. Closing it frees the pipe; the tool keeps running.
   */
  transport(): Transport | undefined {
    if (this.#closed || this.#session) return undefined;
    this.#buffer = new ReadBuffer();
    const session = new ChannelTransport(
      (line) => this.#write(line),
      () => {
        if (this.#session === session) this.#session = undefined;
      },
    );
    this.#session = session;
    return session;
  }

  #write(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error('the stdio channel is closed'));
      this.#writer.write(line, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Closes the agent's ends. The tool keeps its own ends and keeps running. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#session?.fail(new Error('the stdio channel closed'));
    this.#writer.destroy();
    this.#reader.destroy();
  }
}

/** One MCP session over a StdioChannel. */
class ChannelTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;
  readonly #write: (line: string) => Promise<void>;
  readonly #release: () => void;
  #open = true;

  constructor(write: (line: string) => Promise<void>, release: () => void) {
    this.#write = write;
    this.#release = release;
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.#open) throw new Error('the MCP session over stdio is closed');
    await this.#write(serializeMessage(message));
  }

  deliver(message: JSONRPCMessage): void {
    if (this.#open) this.onmessage?.(message);
  }

  fail(error: Error): void {
    this.onerror?.(error);
    void this.close();
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#release();
    this.onclose?.();
  }
}

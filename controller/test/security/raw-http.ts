/**
 * Raw HTTP/1.1 over a TCP socket, for what `fetch` will not send: broken request targets,
 * asterisk and authority forms, hand-written upgrade requests.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status of the answer, or undefined when the server closed without one. */
  status: number | undefined;
  text: string;
}

/** Sends `head` (lines without the final blank line) and `body`, reads until the server closes. */
export function rawRequest(port: number, head: string[], body = ''): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(`${head.join('\r\n')}\r\nConnection: close\r\n\r\n${body}`);
    });
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    socket.on('error', (error) => {
      // A reset after the server's answer is a close like any other.
      if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') return;
      reject(error);
    });
    socket.on('close', () => {
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : undefined, text });
    });
    socket.setTimeout(20_000, () => socket.destroy(new Error(`no answer to ${head[0]} within 20 s`)));
  });
}

/** A YAML alias bomb: each level holds nine aliases of the one before (9^levels leaves). */
export function yamlAliasBomb(levels = 9): string {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i += 1) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(',')}]`);
  return `${lines.join('\n')}\n`;
}

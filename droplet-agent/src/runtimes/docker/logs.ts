/**
 * Decodes the Docker Engine API's log stream of a non-TTY container: frames of an 8-byte
 * header (stream type, 3 zero bytes, big-endian length) and a payload; with
 * `timestamps=true` each line starts with an RFC 3339 time and a space.
 */
import type { LogLine } from '@toolbelt/schema/protocol';
import { logLine } from '../../logs.ts';

export function demuxLogs(buffer: Buffer): LogLine[] {
  const lines: LogLine[] = [];
  const partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const stream = buffer[offset] === 2 ? 'stderr' : 'stdout';
    const size = buffer.readUInt32BE(offset + 4);
    const text = partial[stream] + buffer.toString('utf8', offset + 8, Math.min(buffer.length, offset + 8 + size));
    offset += 8 + size;
    const parts = text.split('\n');
    partial[stream] = parts.pop() ?? '';
    for (const part of parts) lines.push(parse(stream, part));
  }
  for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) lines.push(parse(stream, partial[stream]));
  return lines;
}

function parse(stream: 'stdout' | 'stderr', raw: string): LogLine {
  const space = raw.indexOf(' ');
  const stamp = space > 0 ? Date.parse(raw.slice(0, space)) : Number.NaN;
  return Number.isNaN(stamp) ? logLine(stream, raw, new Date()) : logLine(stream, raw.slice(space + 1), new Date(stamp));
}

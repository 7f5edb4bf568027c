/**
 * pino JSON logs, pretty when writing to a terminal. Anything that looks like a credential
 * is redacted by path, whatever logs it.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.ts';

export type { Logger } from 'pino';

/** Paths never written to a log line. */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'value',
  '*.value',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'credential',
  '*.credential',
];

export function createLogger(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
  destination: NodeJS.WritableStream = process.stdout,
): Logger {
  const usePretty =
    config.logFormat === 'pretty' || (config.logFormat === 'auto' && (destination as { isTTY?: boolean }).isTTY === true);
  const options = { level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (usePretty) return pino(options, pretty({ destination, sync: true, ignore: 'pid,hostname' }));
  return pino(options, destination);
}

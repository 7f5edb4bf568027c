/**
 * pino JSON logs, pretty when writing to a terminal. Anything that looks like a credential
 * is redacted by path, whatever logs it, and a failed query's parameters (which hold what
 * a request or an agent sent) never reach a log line: only its SQL and the database's reason.
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
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError, error: serializeError },
  };
  if (usePretty) return pino(options, pretty({ destination, sync: true, ignore: 'pid,hostname' }));
  return pino(options, destination);
}

/** pino's error serializer, over a copy of the error whose failed queries keep no parameters. */
export function serializeError(error: unknown): unknown {
  return pino.stdSerializers.err(withoutQueryParameters(error, 0) as Error);
}

/**
 * drizzle's DrizzleQueryError spells a failed query's parameters into its message and stack
 * (`Failed query: …\nparams: …`); it and the drivers' errors keep them as `params` or
 * `parameters`. This rebuilds the error chain without them.
 */
function withoutQueryParameters(error: unknown, depth: number): unknown {
  if (!(error instanceof Error) || depth > 8) return error;
  const cause = withoutQueryParameters(error.cause, depth + 1);
  const message = error.message.replace(/\nparams: [\s\S]*$/, '\nparams: (not logged)');
  const carries = 'params' in error || 'parameters' in error;
  if (!carries && message === error.message && cause === error.cause) return error;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(error) as object) as Error, error, { cause });
  delete (copy as { params?: unknown }).params;
  delete (copy as { parameters?: unknown }).parameters;
  copy.message = message;
  const frames = (error.stack ?? '').split('\n').filter((line) => line.startsWith('    at '));
  copy.stack = message === error.message ? error.stack : [`${error.name}: ${message}`, ...frames].join('\n');
  return copy;
}

/**
 * The agent's log: one JSON object per line on stderr (journald keeps it on a droplet).
 * WARNING: never pass a credential, an enrollment token or a secret value to it.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger writing JSON lines to `write` (default: stderr). */
export function createLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const emit = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    write(`${JSON.stringify({ at: new Date().toISOString(), level, message, ...fields })}\n`);
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that drops everything (tests of parts that log). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

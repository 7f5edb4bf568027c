/**
 * Built-in TLS: the controller serves https (and so wss:// for droplet agents) from a
 * certificate and key in PEM files (`TOOLBELT_TLS_CERT_FILE`, `TOOLBELT_TLS_KEY_FILE`), and
 * picks up new files without a restart: the files are polled, and when either changes the
 * pair is read again and, if it is a valid pair, becomes the server's secure context for
 * every new connection (open ones keep theirs). A bad pair is logged and the old one kept —
 * a half-written renewal never takes the server down.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ToolbeltError } from '@toolbelt/schema';
import type { Logger } from '../logger.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** How often the files are checked for changes (default 2 s). */
  pollMs?: number;
}

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

/** Reads and checks a certificate/key pair; throws a ToolbeltError naming the file at fault. */
export function readKeyPair(files: TlsFiles): KeyPair {
  const read = (path: string, setting: string) => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new ToolbeltError('TLS_FILE_UNREADABLE', `cannot read ${setting} ${path}: ${(cause as Error).message}`, {
        hint: `check ${setting} and that the controller's user may read it`,
        cause,
      });
    }
  };
  const pair = { cert: read(files.certFile, 'TOOLBELT_TLS_CERT_FILE'), key: read(files.keyFile, 'TOOLBELT_TLS_KEY_FILE') };
  try {
    createSecureContext(pair);
  } catch (cause) {
    throw new ToolbeltError('TLS_PAIR_INVALID', `the TLS certificate and key do not make a pair: ${(cause as Error).message}`, {
      hint: 'TOOLBELT_TLS_CERT_FILE must hold the PEM certificate (chain) and TOOLBELT_TLS_KEY_FILE its PEM private key',
      cause,
    });
  }
  return pair;
}

/**
 * Watches the pair and calls `apply` with each new valid pair. Returns the stop function.
 * Polling (not inotify): renewals replace files by rename or through symlinks (Kubernetes
 * secrets, certbot), which a poll of the path's stat sees whatever the mechanism.
 */
export function watchKeyPair(files: TlsFiles, logger: Logger, apply: (pair: KeyPair) => void): () => void {
  const interval = files.pollMs ?? 2_000;
  const stamp = () => [files.certFile, files.keyFile].map((f) => statSync(f, { throwIfNoEntry: false })?.mtimeMs ?? 0).join(',');
  let last = stamp();
  const onChange = () => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      apply(readKeyPair(files));
      logger.info({ certFile: files.certFile }, 'TLS certificate reloaded');
    } catch (error) {
      logger.error({ err: error }, 'TLS certificate change not applied; the previous certificate stays in use');
    }
  };
  for (const file of [files.certFile, files.keyFile]) watchFile(file, { interval, persistent: false }, onChange);
  return () => {
    for (const file of [files.certFile, files.keyFile]) unwatchFile(file, onChange);
  };
}

/**
 * Reads `TOOLBELT_AGENT_CA_FILE`: PEM certificates of the private CA that signed the
 * controller's certificate. Droplets get it in their user_data (it is public, not a secret)
 * and their agent then trusts that CA — and only it — for wss://.
 */
export function readAgentCa(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ToolbeltError('TLS_FILE_UNREADABLE', `cannot read TOOLBELT_AGENT_CA_FILE ${path}: ${(cause as Error).message}`, { cause });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (blocks.length === 0) throw new Error('no PEM certificate in it');
    for (const block of blocks) new X509Certificate(block);
  } catch (cause) {
    throw new ToolbeltError('TLS_CA_INVALID', `TOOLBELT_AGENT_CA_FILE ${path} is not a PEM CA certificate: ${(cause as Error).message}`, {
      hint: 'give the CA certificate (-----BEGIN CERTIFICATE-----), not its key',
      cause,
    });
  }
  return `${blocks.join('\n')}\n`;
}

/**
 * The agent endpoint's gate: every upgrade request is authenticated *before* the WebSocket
 * handshake completes. Bad requests get a plain HTTP answer (401, 403, 426, 503) with the
 * project's JSON error body, and no socket is ever opened for them.
 *
 * `Authorization: Bearer TOKEN` carries either the agent credential or, on the first
 * connect, the enrollment token — which is redeemed here, atomically, for a new credential.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Db, authenticateAgentCredential, bearerKind, ENROLLMENT_RETRY_AFTER_MS, redeemEnrollmentToken } from '@toolbelt/schema';
import { AGENT_ERROR_CODES, DROPLET_NAME_HEADER, PROTOCOL_VERSION_HEADER, SUPPORTED_PROTOCOL_VERSIONS } from '@toolbelt/schema/protocol';
import type { AgentIdentity } from './connection.ts';

/** Why an upgrade was refused: the HTTP status and the error body's code and message. */
export interface Refusal {
  ok: false;
  status: 401 | 403 | 426 | 503;
  code: string;
  message: string;
  /** Why, for the log (never the token). */
  reason: string;
}
export type UpgradeDecision = { ok: true; identity: AgentIdentity; enrolled: boolean } | Refusal;

const unauthorized = (reason: string, message = 'missing, unknown or expired credential'): Refusal => ({
  ok: false,
  status: 401,
  code: AGENT_ERROR_CODES.unauthorized,
  message,
  reason,
});

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer ([\x21-\x7e]{16,512})$/.exec(header.trim());
  return match?.[1];
}

/** Refuses a protocol version named in the upgrade headers that this controller does not speak. */
function checkVersion(req: IncomingMessage): Refusal | undefined {
  const header = req.headers[PROTOCOL_VERSION_HEADER];
  if (header === undefined) return undefined;
  const version = Number(header);
  if (SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
  return {
    ok: false,
    status: 426,
    code: AGENT_ERROR_CODES.versionUnsupported,
    message: `protocol version ${String(header).slice(0, 16)} is not supported (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}); update the agent`,
    reason: 'protocol version unsupported',
  };
}

/** `tb-<uuid>` → the uuid (the environment id a droplet's name carries); anything else → undefined. */
export function environmentOfDropletName(header: string | string[] | undefined): string | undefined {
  const name = Array.isArray(header) ? header[0] : header;
  const match = name ? /^tb-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(name) : null;
  return match?.[1];
}

/**
 * Decides an upgrade request. The version is checked before the credential, so an
 * enrollment token is never spent on a connection that is refused anyway.
 */
export async function authorizeUpgrade(db: Db, req: IncomingMessage, now: Date): Promise<UpgradeDecision> {
  const versionRefusal = checkVersion(req);
  if (versionRefusal) return versionRefusal;
  const token = bearerOf(req);
  if (token === undefined) return unauthorized('no bearer credential', 'send Authorization: Bearer CREDENTIAL');
  const kind = bearerKind(token).kind;
  if (kind === 'unknown') return unauthorized('not a toolbelt token');
  if (kind === 'enrollment') {
    // The droplet's name says which environment a batch token enrolls; a name that is not
    // ours is passed as nothing, and a batch token then stays unspent (`ambiguous`).
    const environmentId = environmentOfDropletName(req.headers[DROPLET_NAME_HEADER]);
    const redeemed = await redeemEnrollmentToken(db, token, { now, ...(environmentId ? { environmentId } : {}) });
    if (redeemed.kind !== 'ok') return refusalFor(redeemed.reason, 'enrollment token');
    const issued = redeemed.value;
    return {
      ok: true,
      enrolled: true,
      identity: {
        environmentId: issued.environmentId,
        agentId: issued.agentId,
        credentialId: issued.credentialId,
        credentialIssuedAt: now,
        enrolledCredential: issued.token,
      },
    };
  }
  const authenticated = await authenticateAgentCredential(db, token, { now });
  if (authenticated.kind !== 'ok') return refusalFor(authenticated.reason, 'agent credential');
  const { environmentId, agentId, credentialId, issuedAt } = authenticated.value;
  return { ok: true, enrolled: false, identity: { environmentId, agentId, credentialId, credentialIssuedAt: issuedAt } };
}

function refusalFor(reason: string, what: string): Refusal {
  // 403, not 401: the agent stops reconnecting for good on 403 (and on close 4004).
  if (reason === 'revoked') {
    return {
      ok: false,
      status: 403,
      code: AGENT_ERROR_CODES.revoked,
      message: `the ${what} was revoked (the droplet was de-provisioned); stop reconnecting`,
      reason: `${what} revoked`,
    };
  }
  if (reason === 'used') {
    return unauthorized(
      `${what} already used`,
      `the token was redeemed moments ago (retry after ${ENROLLMENT_RETRY_AFTER_MS / 1000} s if that credential never arrived) or its credential was confirmed (use credential.json)`,
    );
  }
  return unauthorized(`${what} ${reason}`);
}

/** Answers a refused upgrade with a plain HTTP response and closes the socket. */
export function writeRefusal(socket: Duplex, refusal: Pick<Refusal, 'status' | 'code' | 'message'>): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message } });
  const statusText = { 401: 'Unauthorized', 403: 'Forbidden', 426: 'Upgrade Required', 503: 'Service Unavailable' }[refusal.status];
  const headers = [
    `HTTP/1.1 ${refusal.status} ${statusText}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...(refusal.status === 401 ? ['WWW-Authenticate: Bearer realm="toolbelt-agent"'] : []),
    ...(refusal.status === 503 ? ['Retry-After: 5'] : []),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * API authentication: `Authorization: Bearer <token>`, looked up by its SHA-256 hash, and a
 * role check (viewer < operator < admin). 401 and 403 say why. The token itself is never
 * stored, logged or echoed.
 */
import type { IncomingMessage } from 'node:http';
import { type ApiRole, type Clock, type Db, findApiTokenByHash, hashApiToken, touchApiToken } from '@toolbelt/schema';
import { ApiError } from './errors.ts';
import type { Access, Caller } from './route.ts';
import { readCookie, SESSION_COOKIE, sessionCaller } from './sessions.ts';

const ROLE_RANK: Record<ApiRole, number> = { caller: 0, viewer: 1, operator: 2, admin: 3 };
/** What each role is for, named in 403 answers. */
export const ROLE_MEANING: Record<ApiRole, string> = {
  caller: "use one agent's MCP gateway and read its toolbelt view",
  viewer: 'read',
  operator: 'read and change agents, environments, tools and secrets',
  admin: 'everything, including the catalog and API tokens',
};
/** last_used_at is written at most this often per token, so reads stay reads. */
const TOUCH_EVERY_MS = 60_000;

/** Whether `role` may call a route with `access`. */
export function allows(role: ApiRole, access: Access): boolean {
  return access === 'public' || ROLE_RANK[role] >= ROLE_RANK[access];
}

export function unauthenticated(message: string): ApiError {
  return new ApiError(401, 'UNAUTHENTICATED', message, {
    hint: 'send "Authorization: Bearer <token>"; the first start of the controller prints an admin token',
  });
}

/** Checks bearer tokens against the store. */
export class Authenticator {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #touched = new Map<string, number>();

  constructor(options: { db: Db; clock: Clock }) {
    this.#db = options.db;
    this.#clock = options.clock;
  }

  /**
   * The caller of `req`, or an ApiError (401/403) saying why not. Public routes need no token.
   * With `agentCaller`, a caller token passes too — bound to its agent, which the route checks
   * (`assertAgentAccess`).
   */
  async authenticate(req: IncomingMessage, access: Access, options: { agentCaller?: boolean } = {}): Promise<Caller | undefined> {
    if (access === 'public') return undefined;
    const header = req.headers.authorization;
    if (!header) return this.#sessionCaller(req, access);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthenticated('the Authorization header is not of the form "Bearer <token>"');
    const row = await findApiTokenByHash(this.#db, hashApiToken(match[1]!));
    if (!row) throw unauthenticated('the token is not known or was revoked');
    if (!allows(row.role, access) && !(options.agentCaller && row.role === 'caller' && row.agent_id)) {
      throw new ApiError(403, 'FORBIDDEN', `token "${row.name}" has role ${row.role}; this needs ${access} or above`, {
        hint: `${access} tokens may ${ROLE_MEANING[access as ApiRole]}; ask an admin for one`,
      });
    }
    await this.#touch(row.id);
    return { tokenId: row.id, name: row.name, role: row.role, ...(row.agent_id ? { agentId: row.agent_id } : {}) };
  }

  /** The caller of a request without Authorization: its console session cookie, if any (sessions.ts). */
  async #sessionCaller(req: IncomingMessage, access: Access): Promise<Caller> {
    const secret = readCookie(req, SESSION_COOKIE);
    if (secret === undefined) throw unauthenticated('no Authorization header');
    const caller = await sessionCaller(this.#db, req, secret, new Date(this.#clock.now()));
    if (!allows(caller.role, access)) {
      throw new ApiError(403, 'FORBIDDEN', `token "${caller.name}" has role ${caller.role}; this needs ${access} or above`, {
        hint: `${access} tokens may ${ROLE_MEANING[access as ApiRole]}; ask an admin for one`,
      });
    }
    return caller;
  }

  async #touch(id: string): Promise<void> {
    const now = this.#clock.now();
    const last = this.#touched.get(id);
    if (last !== undefined && now - last < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    await touchApiToken(this.#db, id, new Date(now));
  }
}

/** Refuses a caller token bound to another agent (403); every other caller passed the role check. */
export function assertAgentAccess(caller: Caller | undefined, agent: { id: string; name: string }): void {
  if (caller?.role !== 'caller' || caller.agentId === agent.id) return;
  throw new ApiError(403, 'FORBIDDEN', `token "${caller.name}" is a caller token of another agent; it may not reach agent "${agent.name}"`, {
    hint: `create a caller token for this agent: toolbelt tokens create NAME --role caller --agent ${agent.name}`,
  });
}

/** What the gateway's parts are given. */
import type { Clock, Db } from '@toolbelt/schema';
import type { McpCallBody, McpReplyBody } from '@toolbelt/schema/protocol';
import type { Logger } from '../logger.ts';
import type { CallOptions } from './channel.ts';

/** Sends one MCP request to a tool instance behind an environment's agent, wherever its socket is. */
export type CallRoute = (environmentId: string, toolInstanceId: string, body: McpCallBody, options: CallOptions) => Promise<McpReplyBody>;

export interface GatewayDeps {
  db: Db;
  logger: Logger;
  clock: Clock;
  route: CallRoute;
  /** How long one call to a tool may take. */
  callTimeoutMs: number;
}

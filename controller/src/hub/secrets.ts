/**
 * `secret_request`: an agent asks for the secret environment variables of one of its tool
 * instances. Answered only when the tool instance belongs to the agent's own environment
 * (checked in the store, like Kubernetes' node authorizer; the connection remembers what it
 * learnt, since a tool instance never changes environment) and a secret
 * resolver is configured; everything else is refused with AGENT_ERR_SECRET_UNAVAILABLE.
 * WARNING: the response carries values; it is never logged.
 */
import { AGENT_ERROR_CODES, type AgentMessageOf } from '@toolbelt/schema/protocol';
import type { AgentConnection } from './connection.ts';
import { type HubContext, ownerOf, refuseForeign } from './context.ts';

export async function handleSecretRequest(
  ctx: HubContext,
  connection: AgentConnection,
  request: AgentMessageOf<'secret_request'>,
): Promise<void> {
  const { requestId, toolInstanceId } = request;
  const refuse = (reason: string) =>
    connection.send({
      type: 'secret_response',
      requestId,
      toolInstanceId,
      error: { code: AGENT_ERROR_CODES.secretUnavailable, reason },
    });
  // Ownership never changes; a tool deleted since is caught by the resolver (it finds no row).
  const owner = await ownerOf(ctx, connection, toolInstanceId);
  if (owner === 'unknown') return void refuse(`tool instance ${toolInstanceId} does not exist`);
  if (owner === 'foreign') {
    refuse(`tool instance ${toolInstanceId} is not on this droplet`);
    return refuseForeign(ctx, connection, `a secret request for tool instance ${toolInstanceId}`, requestId);
  }
  if (!ctx.options.secrets) return void refuse('this controller has no secret store configured');
  let values: Record<string, string>;
  try {
    values = await ctx.options.secrets(connection.environmentId, toolInstanceId, request.names);
  } catch (error) {
    ctx.logger.warn({ err: error, environmentId: connection.environmentId, toolInstanceId }, 'secret resolver failed');
    return void refuse('the secret store could not answer; the agent retries');
  }
  const missing = request.names.filter((name) => typeof values[name] !== 'string');
  if (missing.length > 0) return void refuse(`no value for ${missing.join(', ')}`);
  const answer = Object.fromEntries(request.names.map((name) => [name, values[name]!]));
  connection.send({ type: 'secret_response', requestId, toolInstanceId, values: answer });
}

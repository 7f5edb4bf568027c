/**
 * What the hub does with each valid agent message. Every handler acts for the connection's
 * own environment (from its credential) and checks any other id the message names.
 */
import {
  type ToolReport,
  appendCommandLogs,
  confirmAgentCredential,
  recordAgentHello,
  recordCommandResult,
  replaceToolObservations,
  upsertToolObservation,
} from '@toolbelt/schema';
import {
  AGENT_ERROR_CODES,
  type AgentMessage,
  type AgentMessageOf,
  CLOSE_CODES,
  SUPPORTED_PROTOCOL_VERSIONS,
  type ToolStatusReport,
} from '@toolbelt/schema/protocol';
import type { AgentConnection } from './connection.ts';
import { type HubContext, now, ownerOf, partitionTools, refuseForeign } from './context.ts';
import { type Masker, maskerFor, maskLines, maskReport, maskReports } from './masking.ts';
import { handleSecretRequest } from './secrets.ts';

/** Handles one message; the connection calls this one message at a time. */
export async function handleMessage(ctx: HubContext, connection: AgentConnection, message: AgentMessage): Promise<void> {
  if (message.type === 'hello') return handleHello(ctx, connection, message);
  if (message.type === 'credential_ack') return handleCredentialAck(ctx, connection, message);
  if (message.type === 'error') return handleAgentError(ctx, connection, message);
  if (connection.helloAt === undefined) {
    connection.sendError(AGENT_ERROR_CODES.invalidMessage, `${message.type} before hello: send hello first`);
    return;
  }
  switch (message.type) {
    case 'heartbeat':
      ctx.heartbeats.record(connection.environmentId, message.agentVersion, message.metrics);
      return;
    case 'command_result':
      return handleCommandResult(ctx, connection, message);
    case 'tool_status':
      return handleToolStatus(ctx, connection, message.tool);
    case 'inventory':
      return handleInventory(ctx, connection, message.inventory);
    case 'logs':
      return handleLogs(ctx, connection, message);
    case 'secret_request':
      return handleSecretRequest(ctx, connection, message);
  }
}

/**
 * Keeps the reports of the agent's own (or unknown, up to a bound) tools; refuses the rest.
 * `replace`: the reports are the whole inventory, so earlier unknown ids no longer count.
 */
async function ownReports(ctx: HubContext, connection: AgentConnection, reports: readonly ToolStatusReport[], replace = false) {
  if (replace) connection.unknownTools.clear();
  const { own, foreign } = await partitionTools(ctx, connection, reports.map((r) => r.toolInstanceId));
  if (foreign.length > 0) await refuseForeign(ctx, connection, `status for tool instance(s) ${foreign.join(', ')}`);
  // Reports of known tools are masked with their secrets before they are stored (masking.ts).
  return (await maskReports(ctx, connection, reports.filter((r) => own.has(r.toolInstanceId)))) as unknown as ToolReport[];
}

/** The masker of the tool a message is about, when it is one of the agent's own tools. */
async function maskerOfOwn(ctx: HubContext, connection: AgentConnection, toolInstanceId: string | undefined): Promise<Masker | undefined> {
  if (toolInstanceId === undefined || (await ownerOf(ctx, connection, toolInstanceId)) !== 'own') return undefined;
  return maskerFor(ctx, connection, toolInstanceId);
}

async function handleHello(ctx: HubContext, connection: AgentConnection, hello: AgentMessageOf<'hello'>): Promise<void> {
  const claimed = hello.droplet.environmentId;
  if (claimed !== undefined && claimed !== connection.environmentId) {
    await refuseForeign(ctx, connection, `a hello as environment ${claimed}`);
    connection.close(CLOSE_CODES.protocolError, 'hello for another environment');
    return;
  }
  if (!SUPPORTED_PROTOCOL_VERSIONS.includes(hello.protocolVersion)) {
    connection.sendError(AGENT_ERROR_CODES.versionUnsupported, `protocol ${hello.protocolVersion} is not supported; update the agent`);
    connection.close(CLOSE_CODES.versionUnsupported, 'protocol version unsupported');
    return;
  }
  const at = now(ctx);
  const reports = await ownReports(ctx, connection, hello.inventory, true);
  await recordAgentHello(ctx.db, {
    environmentId: connection.environmentId,
    connectionId: connection.id,
    at,
    hello: { ...hello, hostname: hello.droplet.hostname, bootId: hello.droplet.bootId, dropletId: hello.droplet.dropletId },
  });
  await replaceToolObservations(ctx.db, connection.environmentId, reports, at);
  connection.helloAt = at.getTime();
  connection.agentVersion = hello.agentVersion;
  ctx.heartbeats.record(connection.environmentId, hello.agentVersion);
  ctx.emit({ kind: 'hello', environmentId: connection.environmentId, agentId: connection.identity.agentId });
  await ctx.commands.deliver(connection, true);
  await ctx.rotateIfDue(connection);
}

async function handleCredentialAck(ctx: HubContext, connection: AgentConnection, ack: AgentMessageOf<'credential_ack'>): Promise<void> {
  const confirmed = await confirmAgentCredential(ctx.db, connection.environmentId, ack.credentialId, { now: now(ctx) });
  if (confirmed.kind !== 'ok') {
    connection.sendError(AGENT_ERROR_CODES.invalidMessage, `credential ${ack.credentialId} is not a live credential of this droplet`);
    return;
  }
  // The agent now holds this one; the next rotation keeps it until the agent confirms the next.
  connection.identity.credentialId = ack.credentialId;
}

async function handleAgentError(ctx: HubContext, connection: AgentConnection, error: AgentMessageOf<'error'>): Promise<void> {
  connection.agentErrors += 1;
  // A chatty (or hostile) agent's errors are logged at warn only so often.
  const level = connection.agentErrors <= 20 || connection.agentErrors % 1000 === 0 ? 'warn' : 'debug';
  ctx.logger[level]({ environmentId: connection.environmentId, code: error.code, detail: error.detail, inReplyTo: error.inReplyTo, count: connection.agentErrors }, 'agent reported an error');
  if (error.inReplyTo === undefined) return;
  // An error about a command means the agent could not use it: the command failed.
  const outcome = await recordCommandResult(ctx.db, {
    environmentId: connection.environmentId,
    commandId: error.inReplyTo,
    status: 'failed',
    errorCode: error.code,
    result: { error: { code: error.code, reason: error.detail } },
    now: now(ctx),
  });
  if (outcome.kind === 'ok') {
    ctx.emit({ kind: 'command_result', environmentId: connection.environmentId, commandId: outcome.value.id, toolInstanceId: outcome.value.tool_instance_id ?? undefined });
  }
}

/** What of a command result goes into the command's `result`, masked with the tool's secrets. */
async function resultOf(ctx: HubContext, connection: AgentConnection, result: AgentMessageOf<'command_result'>): Promise<Record<string, unknown>> {
  const mask = await maskerOfOwn(ctx, connection, result.toolInstanceId ?? result.tool?.toolInstanceId);
  const { duplicate } = result;
  const message = result.message !== undefined && mask ? mask(result.message) : result.message;
  const error = result.error && mask ? { ...result.error, reason: mask(result.error.reason) } : result.error;
  const tool = result.tool && mask ? await maskReport(ctx, connection, result.tool) : result.tool;
  return Object.fromEntries(Object.entries({ message, error, duplicate, tool }).filter(([, v]) => v !== undefined));
}

/**
 * `accepted` is recorded without holding up the connection: the final answer need not wait
 * for it and cannot be overtaken by it (`accepted` only moves a command still queued or sent).
 */
function recordAccepted(ctx: HubContext, connection: AgentConnection, commandId: string): void {
  void recordCommandResult(ctx.db, { environmentId: connection.environmentId, commandId, status: 'accepted', now: now(ctx) })
    .then(async (outcome) => {
      if (outcome.kind === 'foreign') await refuseForeign(ctx, connection, `a result for command ${commandId}`, commandId);
    })
    .catch((error: unknown) => ctx.logger.warn({ err: error, commandId }, 'recording an accepted command failed'));
}

async function handleCommandResult(ctx: HubContext, connection: AgentConnection, result: AgentMessageOf<'command_result'>): Promise<void> {
  if (result.status === 'progress') return;
  if (result.status === 'accepted' && result.tool === undefined) return recordAccepted(ctx, connection, result.commandId);
  const outcome = await recordCommandResult(ctx.db, {
    environmentId: connection.environmentId,
    commandId: result.commandId,
    status: result.status,
    errorCode: result.error?.code,
    result: await resultOf(ctx, connection, result),
    now: now(ctx),
  });
  if (outcome.kind === 'foreign') return refuseForeign(ctx, connection, `a result for command ${result.commandId}`, result.commandId);
  if (outcome.kind !== 'ok') return; // unknown, or a repeated answer: harmless
  if (result.tool) await handleToolStatus(ctx, connection, result.tool, false);
  if (result.status === 'accepted') return;
  ctx.emit({
    kind: 'command_result',
    environmentId: connection.environmentId,
    commandId: outcome.value.id,
    toolInstanceId: outcome.value.tool_instance_id ?? undefined,
  });
}

async function handleToolStatus(ctx: HubContext, connection: AgentConnection, tool: ToolStatusReport, emit = true): Promise<void> {
  const [report] = await ownReports(ctx, connection, [tool]);
  if (!report) return;
  await upsertToolObservation(ctx.db, connection.environmentId, report, now(ctx));
  if (emit) ctx.emit({ kind: 'tool_status', environmentId: connection.environmentId, toolInstanceId: tool.toolInstanceId });
}

async function handleInventory(ctx: HubContext, connection: AgentConnection, inventory: readonly ToolStatusReport[]): Promise<void> {
  const reports = await ownReports(ctx, connection, inventory, true);
  await replaceToolObservations(ctx.db, connection.environmentId, reports, now(ctx));
  ctx.emit({ kind: 'inventory', environmentId: connection.environmentId });
}

async function handleLogs(ctx: HubContext, connection: AgentConnection, logs: AgentMessageOf<'logs'>): Promise<void> {
  if (logs.commandId === undefined) {
    const { foreign } = await partitionTools(ctx, connection, [logs.toolInstanceId]);
    if (foreign.length > 0) return refuseForeign(ctx, connection, `logs of tool instance ${logs.toolInstanceId}`);
    ctx.options.onLogs?.(connection.environmentId, logs);
    return;
  }
  const mask = await maskerOfOwn(ctx, connection, logs.toolInstanceId);
  const appended = await appendCommandLogs(ctx.db, {
    environmentId: connection.environmentId,
    commandId: logs.commandId,
    lines: mask ? maskLines(mask, logs.lines) : logs.lines,
    truncated: logs.truncated,
  });
  if (appended.kind === 'foreign') await refuseForeign(ctx, connection, `logs for command ${logs.commandId}`, logs.commandId);
}

/**
 * Commands for droplet agents (`commands`): the seam between whoever decides (reconcilers,
 * the API — on any replica) and the hub that holds the agent's socket (on one replica).
 *
 * - `enqueueCommand` writes a row and, in the same statement, NOTIFYs `toolbelt_commands`
 *   with the environment id. Reconcilers call it (they import only schema); they never talk
 *   to a socket.
 * - The replica holding that agent's socket `claimCommands` (queued → sent, atomically, so
 *   two replicas never both send one) and sends them; on every (re)connect it also re-sends
 *   the ones still in flight — the agent de-duplicates by command id.
 * - The agent's answer goes through `recordCommandResult`, which only touches a command of
 *   the answering agent's own environment. Whoever issued a command learns its outcome from
 *   the row (and, on the replica holding the socket, from the hub's `command_result` event).
 * - `expireCommands` turns open commands past their deadline into `timed_out`; the next
 *   reconcile issues a fresh one (a lost command is re-sent that way).
 * A command carrying a `dedupe_key` (type, tool instance, generation) is open at most once:
 * re-issuing it returns the open row instead of a second command.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { UUID } from './ids.ts';
import type { DbOrTx } from './db.ts';
import { isStillReferenced } from './errors.ts';
import { type Found, type NotFound, notFound, ok } from './outcomes.ts';
import { commandMessageSchema } from './protocol/controller-messages.ts';
import { rowsOf } from './raw.ts';
import type { CommandStatus, commands } from './tables.ts';

/** NOTIFY channel: payload is the environment id that has new queued commands. */
export const COMMANDS_CHANNEL = 'toolbelt_commands';

/** How long a command may stay open unless the issuer says otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5 * 60 * 1000;

export type Command = typeof commands.$inferSelect;
/** A command's final statuses. */
export const FINAL_COMMAND_STATUSES: readonly CommandStatus[] = ['done', 'failed', 'timed_out'];

/** What to send. `payload` must match the protocol's payload for `commandType`. */
export interface CommandRequest {
  environmentId: string;
  commandType: string;
  toolInstanceId?: string | undefined;
  generation?: number | undefined;
  payload?: Record<string, unknown>;
  /** Open at most once per (type, tool instance, generation); default true when a generation is given. */
  dedupe?: boolean;
  timeoutMs?: number;
}

export interface EnqueueOptions {
  now?: Date;
}

const TS = (d: Date) => d.toISOString();

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

function toJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Maps a raw row (either driver) to a Command. */
function toCommand(row: Record<string, unknown>): Command {
  return {
    id: String(row.id),
    agent_droplet_id: String(row.agent_droplet_id),
    command_type: String(row.command_type),
    tool_instance_id: (row.tool_instance_id as string | null) ?? null,
    generation: row.generation === null || row.generation === undefined ? null : Number(row.generation),
    payload: toJson<Record<string, unknown>>(row.payload),
    dedupe_key: (row.dedupe_key as string | null) ?? null,
    status: row.status as CommandStatus,
    result: row.result === null || row.result === undefined ? null : toJson<Record<string, unknown>>(row.result),
    error_code: (row.error_code as string | null) ?? null,
    attempts: Number(row.attempts),
    sent_by: (row.sent_by as string | null) ?? null,
    created_at: toDate(row.created_at)!,
    updated_at: toDate(row.updated_at)!,
    sent_at: toDate(row.sent_at),
    finished_at: toDate(row.finished_at),
    deadline: toDate(row.deadline)!,
  };
}

const COLUMN_NAMES = [
  'id', 'agent_droplet_id', 'command_type', 'tool_instance_id', 'generation', 'payload', 'dedupe_key', 'status',
  'result', 'error_code', 'attempts', 'sent_by', 'created_at', 'updated_at', 'sent_at', 'finished_at', 'deadline',
];
const COLUMNS = sql.raw(COLUMN_NAMES.join(', '));
const C_COLUMNS = sql.raw(COLUMN_NAMES.map((c) => `c.${c}`).join(', '));

/** The key that keeps a command from being open twice, or null when it may be (see `dedupe`). */
export function commandDedupeKey(request: CommandRequest): string | null {
  const dedupe = request.dedupe ?? request.generation !== undefined;
  if (!dedupe) return null;
  return `${request.commandType}:${request.toolInstanceId ?? '-'}:${request.generation ?? '-'}`;
}

async function insertCommand(db: DbOrTx, request: CommandRequest, options: EnqueueOptions): Promise<Command | undefined> {
  const now = options.now ?? new Date();
  const deadline = new Date(now.getTime() + (request.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS));
  const insert = sql`
    insert into commands (id, agent_droplet_id, command_type, tool_instance_id, generation, payload, dedupe_key,
      status, attempts, created_at, updated_at, deadline)
    values (${randomUUID()}, ${request.environmentId}, ${request.commandType}, ${request.toolInstanceId ?? null},
      ${request.generation ?? null}, ${JSON.stringify(request.payload ?? {})}::jsonb, ${commandDedupeKey(request)},
      'queued', 0, ${TS(now)}, ${TS(now)}, ${TS(deadline)})
    on conflict do nothing
    returning ${COLUMNS}`;
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`with ins as (${insert}) select ins.*, pg_notify(${COMMANDS_CHANNEL}, ins.agent_droplet_id::text) from ins`),
  );
  return rows[0] ? toCommand(rows[0]) : undefined;
}

async function openCommandByKey(db: DbOrTx, environmentId: string, key: string): Promise<Command | undefined> {
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`select ${COLUMNS} from commands where agent_droplet_id = ${environmentId}
      and dedupe_key = ${key} and status in ('queued', 'sent', 'accepted')`),
  );
  return rows[0] ? toCommand(rows[0]) : undefined;
}

/** A command the protocol would refuse: `reason` names the fields. */
export type InvalidCommand = { kind: 'invalid'; reason: string };

/** Checks a command against the protocol's command schema (as the agent will). */
export function validateCommand(request: CommandRequest): InvalidCommand | undefined {
  const parsed = commandMessageSchema.safeParse({
    type: 'command',
    v: 1,
    commandId: '00000000-0000-4000-8000-000000000000',
    commandType: request.commandType,
    ...(request.toolInstanceId === undefined ? {} : { toolInstanceId: request.toolInstanceId }),
    ...(request.generation === undefined ? {} : { generation: request.generation }),
    payload: request.payload ?? {},
  });
  if (parsed.success) return undefined;
  const reason = parsed.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`).join('; ');
  return { kind: 'invalid', reason };
}

/**
 * Writes a command for an environment's agent (see the file comment). When an open command
 * with the same dedupe key exists, returns it with `created: false` and writes nothing.
 * A command the protocol refuses is `invalid` (nothing written); an environment that does
 * not exist is not found.
 */
export async function enqueueCommand(
  db: DbOrTx,
  request: CommandRequest,
  options: EnqueueOptions = {},
): Promise<Found<{ command: Command; created: boolean }> | NotFound | InvalidCommand> {
  const invalid = validateCommand(request);
  if (invalid) return invalid;
  if (!UUID.test(request.environmentId)) return notFound;
  const key = commandDedupeKey(request);
  // Two tries: the open duplicate may finish between the refused insert and the lookup.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    let created: Command | undefined;
    try {
      created = await insertCommand(db, request, options);
    } catch (error) {
      if (isStillReferenced(error)) return notFound;
      throw error;
    }
    if (created) return ok({ command: created, created: true });
    const open = key === null ? undefined : await openCommandByKey(db, request.environmentId, key);
    if (open) return ok({ command: open, created: false });
  }
  throw new Error(`could not enqueue ${request.commandType} for environment ${request.environmentId}: the open duplicate kept changing`);
}

/**
 * Claims an environment's queued commands for sending (queued → sent), oldest first. With
 * `inFlightSentBefore` (on a fresh connection: the time it opened) it also returns the ones
 * sent or accepted before then, to be sent again: the socket that dropped may have lost them.
 * One sent after it went out on this very connection and is not sent twice.
 */
export async function claimCommands(
  db: DbOrTx,
  environmentId: string,
  options: { replicaId: string; inFlightSentBefore?: Date; now?: Date },
): Promise<Command[]> {
  const now = TS(options.now ?? new Date());
  const inFlight = options.inFlightSentBefore
    ? sql`or (status in ('sent', 'accepted') and sent_at < ${TS(options.inFlightSentBefore)})`
    : sql``;
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`
      with claimed as (
        update commands set
          status = case when status = 'queued' then 'sent' else status end,
          attempts = attempts + 1, sent_by = ${options.replicaId}, sent_at = ${now}, updated_at = ${now}
        where agent_droplet_id = ${environmentId} and (status = 'queued' ${inFlight}) and deadline > ${now}
        returning ${COLUMNS}
      )
      select * from claimed order by created_at, id`),
  );
  return rows.map(toCommand);
}

/** An agent's answer to a command. */
export interface CommandAnswer {
  environmentId: string;
  commandId: string;
  status: 'accepted' | 'done' | 'failed';
  result?: Record<string, unknown>;
  errorCode?: string | undefined;
  now?: Date;
}

/** The outcome of recording an answer: the command belongs to another environment, or is already final. */
export type AnswerOutcome =
  | Found<Command>
  | NotFound
  | { kind: 'foreign'; ownerEnvironmentId: string }
  | { kind: 'already_final'; command: Command };

/**
 * Records an agent's answer on a command of *its own* environment (merged into `result`,
 * so log lines appended earlier stay): `accepted` moves an
 * unanswered command on; `done`/`failed` finish it. An answer for
 * another environment's command changes nothing and comes back `foreign`; a repeated final
 * answer comes back `already_final` (duplicates are harmless).
 */
export async function recordCommandResult(db: DbOrTx, answer: CommandAnswer): Promise<AnswerOutcome> {
  if (!UUID.test(answer.commandId)) return notFound;
  const now = TS(answer.now ?? new Date());
  const final = answer.status !== 'accepted';
  const from = final ? sql.raw(`('queued', 'sent', 'accepted')`) : sql.raw(`('queued', 'sent')`);
  const update = sql`
    update commands set status = ${answer.status}, updated_at = ${now},
      result = coalesce(result, '{}'::jsonb) || ${JSON.stringify(answer.result ?? {})}::jsonb,
      error_code = ${answer.errorCode ?? null}, finished_at = ${final ? now : null}
    where id = ${answer.commandId} and agent_droplet_id = ${answer.environmentId} and status in ${from}
    returning ${COLUMNS}`;
  const rows = rowsOf<Record<string, unknown>>(await db.execute(update));
  if (rows[0]) return ok(toCommand(rows[0]));
  const existing = await getCommand(db, answer.commandId);
  if (!existing) return notFound;
  if (existing.agent_droplet_id !== answer.environmentId) return { kind: 'foreign', ownerEnvironmentId: existing.agent_droplet_id };
  return { kind: 'already_final', command: existing };
}

/**
 * Appends log lines (the answer to `get_logs`) to a command of the agent's own environment.
 * Stored under `result.logs`; at most `maxLines` are kept (the newest).
 */
export async function appendCommandLogs(
  db: DbOrTx,
  input: { environmentId: string; commandId: string; lines: unknown[]; truncated: boolean; maxLines?: number },
): Promise<Found<true> | NotFound | { kind: 'foreign'; ownerEnvironmentId: string }> {
  if (!UUID.test(input.commandId)) return notFound;
  const max = input.maxLines ?? 10_000;
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      update commands set result = jsonb_set(jsonb_set(coalesce(result, '{}'::jsonb), '{logs}',
          coalesce((select jsonb_agg(l order by n) from (select l, n from jsonb_array_elements(coalesce(result -> 'logs', '[]'::jsonb)
            || ${JSON.stringify(input.lines)}::jsonb) with ordinality as e(l, n) order by n desc limit ${max}) newest), '[]'::jsonb)),
          '{logsTruncated}', to_jsonb(${input.truncated}::boolean or coalesce((result ->> 'logsTruncated')::boolean, false)))
      where id = ${input.commandId} and agent_droplet_id = ${input.environmentId}
      returning id`),
  );
  if (rows[0]) return ok(true);
  const existing = await getCommand(db, input.commandId);
  if (!existing) return notFound;
  return { kind: 'foreign', ownerEnvironmentId: existing.agent_droplet_id };
}

/**
 * Times out open commands past their deadline (or just `commandId`, if given and due). Safe
 * to run on every replica at once: each row times out once.
 */
export async function expireCommands(
  db: DbOrTx,
  options: { now?: Date; commandId?: string; limit?: number } = {},
): Promise<Command[]> {
  if (options.commandId !== undefined && !UUID.test(options.commandId)) return [];
  const now = TS(options.now ?? new Date());
  const only = options.commandId === undefined ? sql`` : sql`and id = ${options.commandId}`;
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`
      with due as (
        select id from commands where status in ('queued', 'sent', 'accepted') and deadline <= ${now} ${only}
        order by deadline limit ${options.limit ?? 1000} for update skip locked
      )
      update commands c set status = 'timed_out', finished_at = ${now}, updated_at = ${now}
      from due where c.id = due.id and c.status in ('queued', 'sent', 'accepted')
      returning ${C_COLUMNS}`),
  );
  return rows.map(toCommand);
}

export async function getCommand(db: DbOrTx, id: string): Promise<Command | undefined> {
  if (!UUID.test(id)) return undefined;
  const rows = rowsOf<Record<string, unknown>>(await db.execute(sql`select ${COLUMNS} from commands where id = ${id}`));
  return rows[0] ? toCommand(rows[0]) : undefined;
}

/** An environment's commands, newest first; `open` keeps only those not yet final. */
export async function listCommands(
  db: DbOrTx,
  query: { environmentId: string; toolInstanceId?: string; open?: boolean; limit: number },
): Promise<Command[]> {
  const tool = query.toolInstanceId === undefined ? sql`` : sql`and tool_instance_id = ${query.toolInstanceId}`;
  const open = query.open ? sql`and status in ('queued', 'sent', 'accepted')` : sql``;
  const rows = rowsOf<Record<string, unknown>>(
    await db.execute(sql`select ${COLUMNS} from commands where agent_droplet_id = ${query.environmentId} ${tool} ${open}
      order by created_at desc, id desc limit ${query.limit}`),
  );
  return rows.map(toCommand);
}

/** Deletes final commands that finished before `before`; returns how many. */
export async function pruneFinishedCommands(db: DbOrTx, before: Date): Promise<number> {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`delete from commands where status in ('done', 'failed', 'timed_out')
      and finished_at < ${TS(before)} returning id`),
  );
  return rows.length;
}

/**
 * The process runtime's records: one directory per tool instance under
 * `STATE/tools/ID/`, holding `tool.json` (spec, desired state, pid and start time of the
 * running process) — never a secret. Writes are atomic (temp file + rename).
 */
import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { toolSpecSchema } from '@toolbelt/schema/protocol';
import { z } from 'zod';

export const processRecordSchema = z.object({
  toolInstanceId: z.string(),
  generation: z.number().int().nonnegative(),
  spec: toolSpecSchema,
  desired: z.enum(['running', 'stopped']),
  /** Set once the package is installed for this generation. */
  installed: z.boolean().default(false),
  pid: z.number().int().positive().optional(),
  pidStartTime: z.number().optional(),
  startedAt: z.string().optional(),
  restarts: z.number().int().nonnegative().default(0),
  lastExit: z
    .object({ code: z.number().int().nullable(), signal: z.string().nullable(), at: z.string() })
    .optional(),
});
export type ProcessRecord = z.infer<typeof processRecordSchema>;

/** The paths of one tool's directory. */
export function toolPaths(stateDir: string, toolInstanceId: string) {
  const dir = join(stateDir, 'tools', toolInstanceId);
  return {
    dir,
    record: join(dir, 'tool.json'),
    pkg: join(dir, 'pkg'),
    work: join(dir, 'work'),
    stdoutLog: join(dir, 'stdout.log'),
    stderrLog: join(dir, 'stderr.log'),
    stdinFifo: join(dir, 'stdin.fifo'),
    stdoutFifo: join(dir, 'stdout.fifo'),
  };
}
export type ToolPaths = ReturnType<typeof toolPaths>;

export async function writeRecord(stateDir: string, record: ProcessRecord): Promise<void> {
  const paths = toolPaths(stateDir, record.toolInstanceId);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const temporary = `${paths.record}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(record, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, paths.record);
}

/** Every readable record; a damaged one is reported through `onBad` and skipped. */
export async function readRecords(
  stateDir: string,
  onBad: (id: string, error: unknown) => void,
): Promise<ProcessRecord[]> {
  let ids: string[];
  try {
    ids = await readdir(join(stateDir, 'tools'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: ProcessRecord[] = [];
  for (const id of ids) {
    try {
      const text = await readFile(toolPaths(stateDir, id).record, 'utf8');
      records.push(processRecordSchema.parse(JSON.parse(text)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onBad(id, error);
    }
  }
  return records;
}

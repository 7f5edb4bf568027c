/**
 * Process identity from /proc. A pid alone is not an identity (pids are reused), so a
 * process record keeps the pid *and* its start time (field 22 of /proc/PID/stat, in clock
 * ticks since boot): together they name one process for the life of the machine.
 */
import { readFile } from 'node:fs/promises';

export interface ProcStat {
  state: string;
  startTime: number;
}

/** The state and start time of a pid, or undefined when there is no such process. */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  const startTime = Number(rest[19]);
  return { state, startTime };
}

/** Whether the process `pid` that started at `startTime` is still alive (zombies are dead). */
export async function isSameProcessAlive(pid: number, startTime: number): Promise<boolean> {
  const stat = await procStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/** Sends a signal to a process group, ignoring "no such process". */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

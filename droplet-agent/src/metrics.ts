/**
 * Host metrics for heartbeats, read from /proc and statfs (no dependency, no shell).
 * CPU percent is the busy share since the previous sample.
 */
import { readFile, statfs } from 'node:fs/promises';
import type { HostMetrics } from '@toolbelt/schema/types';

interface CpuSample {
  busy: number;
  total: number;
}

async function cpuSample(): Promise<CpuSample> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((sum, n) => sum + (Number.isFinite(n) ? n : 0), 0);
  return { busy: total - idle, total };
}

async function memory(): Promise<{ used: number; total: number }> {
  const text = await readFile('/proc/meminfo', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  const total = kb('MemTotal');
  return { total, used: Math.max(0, total - kb('MemAvailable')) };
}

/** Samples host metrics; keeps the previous CPU sample to compute the busy share. */
export class HostMetricsSampler {
  #previous: CpuSample | undefined;
  readonly #diskPath: string;

  constructor(options: { diskPath?: string } = {}) {
    this.#diskPath = options.diskPath ?? '/';
  }

  async sample(): Promise<HostMetrics> {
    const [cpu, mem, disk, loadText, uptimeText] = await Promise.all([
      cpuSample(),
      memory(),
      statfs(this.#diskPath),
      readFile('/proc/loadavg', 'utf8'),
      readFile('/proc/uptime', 'utf8'),
    ]);
    const previous = this.#previous ?? { busy: 0, total: 0 };
    this.#previous = cpu;
    const dTotal = cpu.total - previous.total;
    const cpuPercent = dTotal > 0 ? Math.min(100, Math.max(0, ((cpu.busy - previous.busy) / dTotal) * 100)) : 0;
    const [load1 = 0, load5 = 0, load15 = 0] = loadText.trim().split(/\s+/).map(Number);
    return {
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      memoryUsedBytes: mem.used,
      memoryTotalBytes: mem.total,
      diskUsedBytes: (disk.blocks - disk.bfree) * disk.bsize,
      diskTotalBytes: disk.blocks * disk.bsize,
      load1,
      load5,
      load15,
      uptimeSeconds: Number(uptimeText.split(' ')[0] ?? 0),
    };
  }
}

/**
 * The agent's footprint, the workspace source under tsx against the bundled release under
 * plain node, in one run on the same machine (interleaved rounds): time from spawn to hello,
 * resident memory after an idle spell, and CPU used while idle (heartbeat every second).
 *
 *   node --import tsx droplet-agent/bench/release-footprint.ts [--rounds 3] [--idle-ms 10000]
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_RELEASES_DIR, ensureAgentRelease, RELEASE_FILE } from '../release/build.ts';
import { tempDir, testConfig } from '../test/helpers/agent-process.ts';
import { startTestPeer } from '../test/helpers/peer.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, 'idle-ms': { type: 'string', default: '10000' } } });
const TICKS_PER_SECOND = 100;

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function measure(argv: string[]): Promise<{ helloMs: number; rss: number; idleCpuPercent: number }> {
  const peer = await startTestPeer({ heartbeatIntervalMs: 1000 });
  const configPath = join(tempDir('toolbelt-bench-config-'), 'agent.json');
  writeFileSync(configPath, JSON.stringify(testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken })), { mode: 0o600 });
  const started = performance.now();
  const child = spawn(argv[0]!, [...argv.slice(1), '--config', configPath], { cwd: ROOT, stdio: 'ignore' });
  try {
    await peer.waitFor('hello', undefined, 0, 120_000);
    const helloMs = performance.now() - started;
    await peer.waitFor('heartbeat', (h) => h.seq >= 2, 0, 120_000);
    const ticks = cpuTicks(child.pid!);
    const idleMs = Number(values['idle-ms']);
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idleCpuPercent = ((cpuTicks(child.pid!) - ticks) / TICKS_PER_SECOND / (idleMs / 1000)) * 100;
    return { helloMs, rss: rssMiB(child.pid!), idleCpuPercent };
  } finally {
    child.kill('SIGKILL');
    await peer.close();
  }
}

const manifest = await ensureAgentRelease();
const variants: Record<string, string[]> = {
  'source under tsx': [process.execPath, '--import', 'tsx', join(ROOT, 'droplet-agent', 'src', 'main.ts')],
  'release under node': [process.execPath, join(DEFAULT_RELEASES_DIR, manifest.version, RELEASE_FILE)],
};
const results: Record<string, { helloMs: number; rss: number; idleCpuPercent: number }[]> = {};
for (let round = 0; round < Number(values.rounds); round += 1) {
  for (const [name, argv] of Object.entries(variants)) (results[name] ??= []).push(await measure(argv));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`agent release ${manifest.version}: ${(manifest.bytes / 1024 / 1024).toFixed(2)} MiB, sha256 ${manifest.sha256.slice(0, 12)}…\n`);
process.stdout.write('variant               spawn→hello ms  idle RSS MiB  idle CPU %\n');
for (const [name, rows] of Object.entries(results)) {
  const cells = [median(rows.map((r) => r.helloMs)).toFixed(0), median(rows.map((r) => r.rss)).toFixed(1), median(rows.map((r) => r.idleCpuPercent)).toFixed(2)];
  process.stdout.write(`${name.padEnd(22)}${cells[0]!.padStart(14)}${cells[1]!.padStart(14)}${cells[2]!.padStart(12)}\n`);
}
const [source, release] = Object.values(results).map((rows) => ({ hello: median(rows.map((r) => r.helloMs)), rss: median(rows.map((r) => r.rss)) }));
process.stdout.write(`release / source: hello ${(release!.hello / source!.hello).toFixed(2)}×, RSS ${(release!.rss / source!.rss).toFixed(2)}×\n`);

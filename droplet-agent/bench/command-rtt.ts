/**
 * Command round trip through a real agent process over loopback: the test peer sends a
 * command, the agent validates it, applies it and answers; measured from send to the final
 * result. Also the agent's idle RSS. Run: npm run bench -w @toolbelt/droplet-agent
 */
import { readFileSync } from 'node:fs';
import { startAgentProcess, testConfig } from '../test/helpers/agent-process.ts';
import { startTestPeer } from '../test/helpers/peer.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 500);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

const peer = await startTestPeer();
const agent = startAgentProcess(testConfig({ controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken }));
try {
  await peer.waitFor('credential_ack');
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rssKb(agent.pid);
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i += 1) {
    const started = performance.now();
    // A tool command the agent fully handles (lookup, failure result with a code).
    await peer.command({ commandType: 'get_logs', toolInstanceId: 'absent', generation: 1, payload: { tail: 10 } });
    times.push(performance.now() - started);
    // Paced below the agent's receive limit (RECEIVE_LIMITS): this measures latency, not flood handling.
    await new Promise((r) => setTimeout(r, 3));
  }
  times.sort((a, b) => a - b);
  const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
  console.log(`command round trip over loopback (${ROUNDS} rounds, after warm-up):`);
  console.log(`  p50 ${fmt(percentile(times, 50))}  p99 ${fmt(percentile(times, 99))}  max ${fmt(times.at(-1)!)}`);
  console.log(`agent RSS: idle ${(idle / 1024).toFixed(1)} MiB, after ${ROUNDS} commands ${(rssKb(agent.pid) / 1024).toFixed(1)} MiB`);
} finally {
  await agent.kill('SIGKILL');
  await peer.close();
}

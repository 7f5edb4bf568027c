/**
 * One bad droplet, in a child process (`fork`, `--import tsx`): it holds a real credential
 * and floods the agent socket *within* the per-socket flood limits — large inventories of
 * invented tool ids (each one an orphan to uninstall), tool statuses of further invented
 * ids, another droplet's secrets and logs — and redials at once whenever it is closed.
 *
 * IPC: the parent sends `{ type: 'start', … }` (options), then `flood` / `pause` as often as it
 * likes, `report` and `stop`.
 */
import { WebSocket } from 'ws';

export interface FlooderStart {
  type: 'start';
  url: string;
  token: string;
  /** A tool instance of another droplet: its secrets and logs are asked for. */
  foreignToolId: string;
  /** Invented tools per inventory (the protocol allows 1000). */
  inventorySize: number;
  /** Per second: inventories, tool statuses of fresh invented ids, cross-droplet frames. */
  perSecond: { inventories: number; toolStatuses: number; crossDroplet: number };
}

export interface FlooderReport {
  type: 'report';
  connects: number;
  framesSent: number;
  bytesSent: number;
  /** Close codes seen, with how often. */
  closes: Record<string, number>;
  errors: Record<string, number>;
  /** Every frame the controller sent, as text (the parent looks for secret values). */
  received: string[];
}

const state = { connects: 0, framesSent: 0, bytesSent: 0, closes: {} as Record<string, number>, errors: {} as Record<string, number>, received: [] as string[] };
let ws: WebSocket | undefined;
let timers: NodeJS.Timeout[] = [];
let stopped = false;
let serial = 0;

const report = (state: string) => ({ instanceName: 'x', generation: 1, runtime: 'process', state, endpoints: [], health: { status: 'unknown' }, restarts: 0 });
const invented = () => `bad-${process.pid}-${(serial += 1).toString(36)}`;

function send(message: Record<string, unknown>): void {
  if (ws?.readyState !== WebSocket.OPEN) return;
  const text = JSON.stringify({ ...message, v: 1 });
  ws.send(text);
  state.framesSent += 1;
  state.bytesSent += Buffer.byteLength(text);
}

function inventory(size: number): Record<string, unknown>[] {
  return Array.from({ length: size }, () => ({ toolInstanceId: invented(), ...report('running'), reason: 'x'.repeat(120) }));
}

/** Runs `task` `perSecond` times a second, in ticks of 50 ms (catching up when timers run late). */
function every(perSecond: number, task: () => void): void {
  if (perSecond <= 0) return;
  const started = Date.now();
  let done = 0;
  timers.push(
    setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
      done = Math.max(done, due - perSecond); // at most a second's worth at once
      for (; done < due; done += 1) task();
    }, 50),
  );
}

/** Frames made before the flood starts (fresh ids in each), so the flood costs this process little. */
let frames: { inventories: string[]; statuses: string[] } = { inventories: [], statuses: [] };

function prepare(options: FlooderStart): void {
  const encode = (message: Record<string, unknown>) => JSON.stringify({ ...message, v: 1 });
  frames = {
    inventories: Array.from({ length: 40 }, () => encode({ type: 'inventory', inventory: inventory(options.inventorySize) })),
    statuses: Array.from({ length: 5000 }, () => encode({ type: 'tool_status', tool: { toolInstanceId: invented(), ...report('crash_loop') } })),
  };
}

function sendText(text: string): void {
  if (ws?.readyState !== WebSocket.OPEN) return;
  ws.send(text);
  state.framesSent += 1;
  state.bytesSent += Buffer.byteLength(text);
}

function flood(options: FlooderStart): void {
  let i = 0;
  let j = 0;
  every(options.perSecond.inventories, () => sendText(frames.inventories[(i += 1) % frames.inventories.length]!));
  every(options.perSecond.toolStatuses, () => sendText(frames.statuses[(j += 1) % frames.statuses.length]!));
  let turn = 0;
  every(options.perSecond.crossDroplet, () => {
    turn += 1;
    const id = options.foreignToolId;
    if (turn % 2 === 0) send({ type: 'secret_request', requestId: `steal-${turn}`, toolInstanceId: id, names: ['SECRET'] });
    else send({ type: 'logs', toolInstanceId: id, lines: [{ at: new Date().toISOString(), stream: 'stdout', text: 'not mine' }], truncated: false });
  });
}

function connect(options: FlooderStart): void {
  if (stopped) return;
  const socket = new WebSocket(options.url, { headers: { authorization: `Bearer ${options.token}`, 'x-toolbelt-protocol': '1' }, perMessageDeflate: false });
  ws = socket;
  socket.on('open', () => {
    state.connects += 1;
    const { inventory } = JSON.parse(frames.inventories[state.connects % frames.inventories.length]!) as { inventory: unknown[] };
    send({ type: 'hello', agentVersion: 'bad-1', protocolVersion: 1, droplet: { hostname: 'bad' }, runtimes: ['process'], inventory, startedAt: new Date().toISOString() });
  });
  socket.on('message', (data) => {
    const text = String(data);
    state.received.push(text);
    const message = JSON.parse(text) as { type: string; code?: string };
    if (message.type === 'error' && message.code) state.errors[message.code] = (state.errors[message.code] ?? 0) + 1;
  });
  socket.on('unexpected-response', (_req, res) => {
    state.closes[`http-${res.statusCode}`] = (state.closes[`http-${res.statusCode}`] ?? 0) + 1;
    res.resume();
    socket.terminate();
  });
  socket.on('error', () => {});
  socket.on('close', (code) => {
    state.closes[String(code)] = (state.closes[String(code)] ?? 0) + 1;
    if (!stopped) setTimeout(() => connect(options), 100);
  });
}

function pause(): void {
  stopped = true;
  timers.forEach(clearInterval);
  timers = [];
  ws?.terminate();
}

let options: FlooderStart | undefined;

process.on('message', (message: FlooderStart | { type: 'report' | 'stop' | 'flood' | 'pause' }) => {
  if (message.type === 'start') {
    options = message;
    prepare(message);
    process.send!({ type: 'started' });
  } else if (message.type === 'flood') {
    stopped = false;
    connect(options!);
    flood(options!);
    process.send!({ type: 'flooding' });
  } else if (message.type === 'pause') {
    pause();
    process.send!({ type: 'paused' });
  } else if (message.type === 'report') {
    process.send!({ type: 'report', ...state } satisfies FlooderReport);
  } else if (message.type === 'stop') {
    pause();
    process.send!({ type: 'stopped' }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));

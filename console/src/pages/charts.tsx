/**
 * Host metrics charts: CPU, memory, disk and load over the last 24 hours, one point a
 * minute, drawn as SVG (no chart library). Each chart has a text summary for screen readers.
 * The time axis spans what there is — from the first point (at least ten minutes, at most
 * 24 hours) to now — so a young environment's few points are a line, not dots at the edge.
 */
import { useEffect } from 'preact/hooks';
import { duration, Empty, ErrorBox, Loading, useApi } from '../components.tsx';
import type { HostMetrics } from '../types.ts';

interface Point {
  at: string;
  metrics: HostMetrics;
}

const W = 600;
const H = 120;
const DAY_MS = 24 * 3600_000;
const MIN_SPAN_MS = 10 * 60_000;

function Chart(props: { title: string; unit: string; points: { t: number; v: number }[]; max: number; from: number; to: number; span: string }) {
  const { points, max, from, to } = props;
  const x = (t: number) => ((t - from) / Math.max(1, to - from)) * W;
  const y = (v: number) => H - (Math.min(v, max) / max) * (H - 4) - 2;
  // Each point also gets a zero-length segment: with round caps it shows as a dot, so a single
  // point (the first minute of an environment) is visible too.
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
  const dots = points.map((p) => `M${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}h0`).join('');
  const last = points.at(-1)?.v;
  const peak = points.reduce((m, p) => Math.max(m, p.v), 0);
  const few = points.length < 10 ? ` (${points.length} point${points.length === 1 ? '' : 's'} so far, one a minute)` : '';
  const summary = last === undefined ? 'no data' : `now ${last.toFixed(1)}${props.unit}, peak ${peak.toFixed(1)}${props.unit} over the last ${props.span}${few}`;
  return (
    <figure class="chart">
      <figcaption>
        <strong>{props.title}</strong> <span class="muted">{summary}</span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={`${props.title}: ${summary}`}>
        <line x1="0" y1={H - 1} x2={W} y2={H - 1} class="axis" />
        <line x1="0" y1={y(max / 2)} x2={W} y2={y(max / 2)} class="grid" />
        {path ? <path d={path} class="line" /> : null}
        {dots ? <path d={dots} class="dots" /> : null}
      </svg>
      <div class="chart-axis" aria-hidden="true">
        <span>{props.span} ago</span>
        <span>now</span>
      </div>
    </figure>
  );
}

const pct = (used: number, total: number) => (total > 0 ? (used / total) * 100 : 0);

export function MetricsCharts(props: { agentId: string }) {
  const loaded = useApi<{ points: Point[] }>(`/v1/agents/${encodeURIComponent(props.agentId)}/environment/metrics`);
  useEffect(() => {
    const timer = setInterval(loaded.reload, 60_000);
    return () => clearInterval(timer);
  }, [loaded.reload]);
  if (loaded.error) return <ErrorBox error={loaded.error} retry={loaded.reload} />;
  if (!loaded.data) return <Loading label="Loading host metrics…" />;
  const points = loaded.data.points;
  if (points.length === 0) return <Empty>No host metrics yet: they arrive with the droplet agent's heartbeats, one point a minute.</Empty>;
  const to = Date.now();
  const first = Math.min(...points.map((p) => new Date(p.at).getTime()));
  const spanMs = Math.min(DAY_MS, Math.max(MIN_SPAN_MS, to - first));
  const from = to - spanMs;
  const span = duration(spanMs / 1000);
  const series = (f: (m: HostMetrics) => number) => points.map((p) => ({ t: new Date(p.at).getTime(), v: f(p.metrics) }));
  const load = series((m) => m.load1);
  const loadMax = Math.max(1, ...load.map((p) => p.v));
  return (
    <div class="charts">
      <Chart title="CPU" unit="%" points={series((m) => m.cpuPercent)} max={100} from={from} to={to} span={span} />
      <Chart title="Memory" unit="%" points={series((m) => pct(m.memoryUsedBytes, m.memoryTotalBytes))} max={100} from={from} to={to} span={span} />
      <Chart title="Disk" unit="%" points={series((m) => pct(m.diskUsedBytes, m.diskTotalBytes))} max={100} from={from} to={to} span={span} />
      <Chart title="Load (1 min)" unit="" points={load} max={Math.ceil(loadMax)} from={from} to={to} span={span} />
    </div>
  );
}

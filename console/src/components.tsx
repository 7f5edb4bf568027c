/**
 * Small pieces every page uses: links, the loading / empty / error states, status badges,
 * conditions, a modal dialog, relative times, and hooks for loading data and following the
 * event stream.
 */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api.ts';
import { onLinkClick } from './router.ts';
import type { Condition, ToolbeltEvent } from './types.ts';

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  return (
    <a href={props.href} class={props.class} aria-current={props['aria-current']} onClick={(e) => onLinkClick(e, props.href)}>
      {props.children}
    </a>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {props.label ?? 'Loading…'}
    </p>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="state empty">{props.children}</p>;
}

export function ErrorBox(props: { error: unknown; retry?: () => void }) {
  const e = props.error;
  const message = e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
  const hint = e instanceof ApiError ? e.hint : undefined;
  return (
    <div class="state error" role="alert">
      <strong>{e instanceof ApiError && e.status === 403 ? 'Not allowed: ' : 'Something went wrong: '}</strong>
      {message}
      {hint ? <div class="hint">{hint}</div> : null}
      {props.retry ? (
        <button type="button" class="secondary" onClick={props.retry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

const STATUS_TONE: Record<string, string> = {
  active: 'ok',
  running: 'ok',
  True: 'ok',
  pending: 'busy',
  creating: 'busy',
  provisioning: 'busy',
  installing: 'busy',
  installed: 'busy',
  pending_config: 'warn',
  deleting: 'busy',
  stopped: 'idle',
  off: 'idle',
  deleted: 'idle',
  unreachable: 'bad',
  error: 'bad',
  failed: 'bad',
  False: 'bad',
};

export function Badge(props: { value: string; label?: string }) {
  return <span class={`badge ${STATUS_TONE[props.value] ?? 'idle'}`}>{props.label ?? props.value.replace(/_/g, ' ')}</span>;
}

export function readyOf(conditions: Condition[] | undefined): string {
  return conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
}

/**
 * Conditions as a list, not a table: their messages are long sentences, which a table
 * column would squeeze into tall rows (in a half-width card, or on a phone).
 */
export function Conditions(props: { conditions: Condition[] }) {
  if (props.conditions.length === 0) return <Empty>No conditions reported yet.</Empty>;
  return (
    <ul class="conditions">
      {props.conditions.map((c) => (
        <li key={c.type}>
          <div class="condition-head">
            <strong>{c.type}</strong> <Badge value={c.status} />{' '}
            <span class="muted">
              {c.reason} · <Ago at={c.lastTransitionTime} />
            </span>
          </div>
          {c.message ? <p class="condition-message">{c.message}</p> : null}
        </li>
      ))}
    </ul>
  );
}

export function ago(at: string | null | undefined, now = Date.now()): string {
  if (!at) return '—';
  const s = Math.max(0, Math.round((now - new Date(at).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function Ago(props: { at: string | null | undefined }) {
  return props.at ? <time dateTime={props.at} title={new Date(props.at).toLocaleString()}>{ago(props.at)}</time> : <span>—</span>;
}

export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export const money = (n: number, digits = 2) => `$${n.toFixed(digits)}`;

/** A modal dialog (native <dialog>: focus is trapped and Escape closes it). */
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" onClose={props.onClose} onCancel={props.onClose}>
      <h2 id="dialog-title">{props.title}</h2>
      {props.open ? props.children : null}
    </dialog>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (value: T) => void;
}

/** Loads `path` (undefined: nothing) and reloads when it changes or on `reload()`. */
export function useApi<T>(path: string | undefined): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api<T>(path, { signal: abort.signal }).then(
      (data) => setState({ data, error: undefined, loading: false }),
      (error: unknown) => {
        if (!abort.signal.aborted) setState((s) => ({ data: s.data, error, loading: false }));
      },
    );
    return () => abort.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const set = useCallback((data: T) => setState({ data, error: undefined, loading: false }), []);
  return { ...state, reload, set };
}

/** Follows `/v1/events/stream` (with `query`), calling `onEvent` for each event; reconnects by itself. */
export function useEventStream(query: string | undefined, onEvent: (e: ToolbeltEvent) => void): 'connecting' | 'live' | 'closed' {
  const [state, setState] = useState<'connecting' | 'live' | 'closed'>('connecting');
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (query === undefined) return;
    const source = new EventSource(`/v1/events/stream${query ? `?${query}` : ''}`);
    source.onopen = () => setState('live');
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
    source.addEventListener('event', (m) => handler.current(JSON.parse((m as MessageEvent<string>).data) as ToolbeltEvent));
    return () => source.close();
  }, [query]);
  return state;
}

/** Events newest first, a new event (or a repeat of one) replacing its older copy. */
export function mergeEvent(list: ToolbeltEvent[], e: ToolbeltEvent, max = 500): ToolbeltEvent[] {
  return [e, ...list.filter((x) => x.id !== e.id)].slice(0, max);
}

export function EventsTable(props: { events: ToolbeltEvent[]; names?: Map<string, string>; caption: string }) {
  if (props.events.length === 0) return <Empty>No events yet. New ones appear here as they happen.</Empty>;
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Table (scrolls sideways on narrow screens)">
      <table class="events">
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            <th scope="col">Last seen</th>
            <th scope="col">Type</th>
            <th scope="col">Reason</th>
            <th scope="col">Object</th>
            <th scope="col">Message</th>
            <th scope="col">Count</th>
          </tr>
        </thead>
        <tbody>
          {props.events.map((e) => (
            <tr key={e.id} class={e.type === 'Warning' ? 'warning' : undefined}>
              <td>
                <Ago at={e.last_seen} />
              </td>
              <td>
                <span class={`badge ${e.type === 'Warning' ? 'bad' : 'idle'}`}>{e.type}</span>
              </td>
              <td>{e.reason}</td>
              <td>
                {e.object.kind}/{props.names?.get(e.object.id) ?? e.object.id.slice(0, 8)}
              </td>
              <td class="wrap">{e.message}</td>
              <td>{e.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

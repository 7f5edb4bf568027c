/**
 * Events, fleet-wide and live over Server-Sent Events: filter by object kind, agent and type;
 * Warnings are listed first. New events appear without a reload.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ErrorBox, EventsTable, Loading, mergeEvent, useApi, useEventStream } from '../components.tsx';
import type { Agent, Page, ToolbeltEvent } from '../types.ts';

const KINDS = ['environment', 'tool', 'orphans', 'firewall', 'agent'];

export function EventsPage() {
  const [kind, setKind] = useState('');
  const [agentId, setAgentId] = useState('');
  const [type, setType] = useState('');
  const agents = useApi<Page<Agent>>('/v1/agents?limit=500');
  const query = [kind ? `kind=${encodeURIComponent(kind)}` : '', agentId ? `object=${encodeURIComponent(agentId)}` : ''].filter(Boolean).join('&');
  const initial = useApi<{ items: ToolbeltEvent[] }>(`/v1/events?limit=200${query ? `&${query}` : ''}`);
  const [events, setEvents] = useState<ToolbeltEvent[]>([]);
  useEffect(() => setEvents(initial.data?.items ?? []), [initial.data]);
  const live = useEventStream(initial.data ? query : undefined, (e) => setEvents((list) => mergeEvent(list, e)));
  const names = useMemo(() => new Map((agents.data?.items ?? []).map((a) => [a.id, a.name])), [agents.data]);
  const shown = useMemo(() => {
    const filtered = type ? events.filter((e) => e.type === type) : events;
    // Warnings first, each group newest first (a stable sort keeps the order within a type).
    return [...filtered].sort((a, b) => (a.type === b.type ? 0 : a.type === 'Warning' ? -1 : 1));
  }, [events, type]);

  return (
    <section aria-labelledby="events-title">
      <div class="page-head">
        <h1 id="events-title">Events</h1>
        <span class="muted live" role="status">
          {live === 'live' ? '● live' : live === 'connecting' ? 'connecting…' : 'disconnected'}
        </span>
      </div>
      <div class="toolbar">
        <label for="ev-kind">Kind</label>
        <select id="ev-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
          <option value="">All kinds</option>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <label for="ev-agent">Agent</label>
        <select id="ev-agent" value={agentId} onChange={(e) => setAgentId((e.target as HTMLSelectElement).value)}>
          <option value="">All agents</option>
          {(agents.data?.items ?? []).map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </select>
        <label for="ev-type">Type</label>
        <select id="ev-type" value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
          <option value="">Warning and Normal</option>
          <option value="Warning">Warning</option>
          <option value="Normal">Normal</option>
        </select>
      </div>
      {initial.error ? <ErrorBox error={initial.error} retry={initial.reload} /> : null}
      {!initial.data && !initial.error ? <Loading label="Loading events…" /> : <EventsTable events={shown} names={names} caption="Events of the fleet, Warnings first" />}
    </section>
  );
}

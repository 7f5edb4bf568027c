/**
 * One agent: its tool environment (switch, pickers, price, provisioning time), conditions,
 * host metrics over 24 hours, its toolbelt, and its events, live. Environment and tools are
 * refreshed every 3 seconds while the page is open.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import type { Abilities } from '../app.tsx';
import { Conditions, ErrorBox, EventsTable, Link, type Loaded, Loading, mergeEvent, useApi, useEventStream } from '../components.tsx';
import type { Agent, Environment, Page, Tool, ToolbeltEvent } from '../types.ts';
import { MetricsCharts } from './charts.tsx';
import { EnvironmentPanel } from './environment.tsx';
import { Toolbelt } from './toolbelt.tsx';

function AgentEvents(props: { agent: Agent; tools: Tool[] }) {
  const ids = useMemo(() => [props.agent.id, ...props.tools.map((t) => t.id)].sort(), [props.agent.id, props.tools.map((t) => t.id).join()]);
  const query = ids.map((id) => `object=${encodeURIComponent(id)}`).join('&');
  const initial = useApi<{ items: ToolbeltEvent[] }>(`/v1/events?limit=50&${query}`);
  const [events, setEvents] = useState<ToolbeltEvent[]>([]);
  useEffect(() => setEvents(initial.data?.items ?? []), [initial.data]);
  const live = useEventStream(initial.data ? query : undefined, (e) => setEvents((list) => mergeEvent(list, e, 100)));
  const names = new Map([[props.agent.id, props.agent.name], ...props.tools.map((t) => [t.id, t.instance_name] as [string, string])]);
  return (
    <section aria-labelledby="agent-events-title">
      <h2 id="agent-events-title">
        Events <span class="muted live">{live === 'live' ? '● live' : live}</span>
      </h2>
      {initial.error ? <ErrorBox error={initial.error} retry={initial.reload} /> : null}
      {!initial.data && !initial.error ? <Loading label="Loading events…" /> : <EventsTable events={events} names={names} caption="Events of this agent" />}
    </section>
  );
}

export function AgentPage(props: { id: string; can: Abilities }) {
  const base = `/v1/agents/${encodeURIComponent(props.id)}`;
  const agent = useApi<Agent>(base);
  // An agent without an environment row has nothing at /environment (404): ask only when it has one.
  const env = useApi<Environment>(agent.data?.environment ? `${base}/environment` : undefined);
  const tools = useApi<Page<Tool>>(`${base}/tools?limit=500`);
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.hidden) return;
      agent.reload();
      env.reload();
      tools.reload();
    }, 3000);
    return () => clearInterval(timer);
  }, [agent.reload, env.reload, tools.reload]);

  if (!agent.data) return <AgentMissing id={props.id} error={agent.error} retry={agent.reload} />;
  return <AgentView agent={agent} env={env} tools={tools} can={props.can} />;
}

function AgentMissing(props: { id: string; error: unknown; retry: () => void }) {
  if (props.error instanceof ApiError && props.error.status === 404) {
    return (
      <section>
        <h1>Agent not found</h1>
        <p>
          There is no agent “{props.id}”. <Link href="/agents">Back to the agents</Link>
        </p>
      </section>
    );
  }
  return props.error ? <ErrorBox error={props.error} retry={props.retry} /> : <Loading label="Loading the agent…" />;
}

function AgentView(props: { agent: Loaded<Agent>; env: Loaded<Environment>; tools: Loaded<Page<Tool>>; can: Abilities }) {
  const { agent, env, tools } = props;
  const a = agent.data!;
  return (
    <div class="agent-page">
      <p class="crumbs">
        <Link href="/agents">Agents</Link> / {a.name}
      </p>
      <h1>{a.name}</h1>
      {a.description ? <p>{a.description}</p> : null}
      {a.deletion_requested_at ? <p class="state error">This agent is being deleted.</p> : null}
      {agent.error ? <ErrorBox error={agent.error} retry={agent.reload} /> : null}
      <div class="grid">
        <EnvironmentPanel agentId={a.id} active={a.tool_environment_active} exists={a.environment !== null} can={props.can} env={env} onChanged={agent.reload} />
        <section aria-labelledby="conditions-title" class="card">
          <h2 id="conditions-title">Conditions</h2>
          {a.environment ? <Conditions conditions={env.data?.conditions ?? a.environment.conditions} /> : <p class="muted">No environment yet.</p>}
        </section>
      </div>
      <section aria-labelledby="metrics-title" class="card">
        <h2 id="metrics-title">Host metrics (up to 24 hours)</h2>
        {a.environment ? <MetricsCharts agentId={a.id} /> : <p class="muted">No environment yet.</p>}
      </section>
      <Toolbelt agentId={a.id} can={props.can} tools={tools} />
      <AgentEvents agent={a} tools={tools.data?.items ?? []} />
    </div>
  );
}

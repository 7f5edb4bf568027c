/**
 * Agents: every agent with its environment (on/off, status, Ready, region, size, price a
 * month), a filter, a search, and "create an agent". Agents load a page of 500 at a time
 * (the first page renders while the rest arrive) and show 50 rows a page, so a fleet of
 * thousands stays quick.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ApiError, api } from '../api.ts';
import type { Abilities } from '../app.tsx';
import { Ago, Badge, Dialog, Empty, ErrorBox, Link, Loading, money, readyOf, useApi } from '../components.tsx';
import { navigate } from '../router.ts';
import type { Agent, DoOptions, Page } from '../types.ts';

const ROWS = 50;

/** Loads every agent page by page; `agents` grows as pages arrive. */
function useAllAgents() {
  const [agents, setAgents] = useState<Agent[] | undefined>(undefined);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    (async () => {
      let after: string | null = null;
      let all: Agent[] = [];
      setDone(false);
      setError(undefined);
      do {
        const page: Page<Agent> = await api<Page<Agent>>(`/v1/agents?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`, { signal: abort.signal });
        all = all.concat(page.items);
        setAgents(all);
        after = page.next;
      } while (after && !abort.signal.aborted);
      setDone(true);
    })().catch((e: unknown) => !abort.signal.aborted && setError(e));
    return () => abort.abort();
  }, [tick]);
  return { agents, done, error, reload: () => setTick((t) => t + 1) };
}

const FILTERS: Record<string, (a: Agent) => boolean> = {
  all: () => true,
  on: (a) => a.tool_environment_active,
  off: (a) => !a.tool_environment_active,
  'not-ready': (a) => a.tool_environment_active && readyOf(a.environment?.conditions) !== 'True',
};

function matches(agent: Agent, filter: string, search: string): boolean {
  const env = agent.environment;
  if (!(FILTERS[filter] ?? FILTERS.all!)(agent)) return false;
  if (!search) return true;
  const s = search.toLowerCase();
  return agent.name.toLowerCase().includes(s) || agent.description.toLowerCase().includes(s) || (env?.region ?? '').includes(s);
}

function CreateAgent(props: { onCreated: (a: Agent) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const fieldError = (f: string) => error?.details.find((d) => d.path === f)?.message;
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const agent = await api<Agent>('/v1/agents', { method: 'POST', body: { name, ...(description ? { description } : {}) } });
      setOpen(false);
      props.onCreated(agent);
    } catch (err) {
      setError(err as ApiError);
    }
  };
  return (
    <>
      <button type="button" onClick={() => (setOpen(true), setError(undefined))}>
        Create agent
      </button>
      <Dialog title="Create an agent" open={open} onClose={() => setOpen(false)}>
        <form onSubmit={submit}>
          <label for="agent-name">Name</label>
          <input id="agent-name" required value={name} aria-invalid={fieldError('name') ? 'true' : undefined} aria-describedby="agent-name-error" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <p id="agent-name-error" class="field-error">{fieldError('name') ?? ''}</p>
          <label for="agent-description">Description (optional)</label>
          <input id="agent-description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
          {error && !error.details.length ? <ErrorBox error={error} /> : null}
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setOpen(false)}>
              Cancel
            </button>
            <button type="submit">Create</button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

function AgentRow(props: { agent: Agent; prices: Map<string, number> }) {
  const { agent } = props;
  const env = agent.environment;
  const price = env ? props.prices.get(env.size) : undefined;
  return (
    <tr>
      <th scope="row">
        <Link href={`/agents/${encodeURIComponent(agent.name)}`}>{agent.name}</Link>
        {agent.deletion_requested_at ? <span class="muted"> (deleting)</span> : null}
      </th>
      <td>{agent.tool_environment_active ? <Badge value="active" label="on" /> : <Badge value="off" label="off" />}</td>
      <td>{env ? <Badge value={env.status} /> : '—'}</td>
      <td>{env ? <Badge value={readyOf(env.conditions)} /> : '—'}</td>
      <td>{env?.region ?? '—'}</td>
      <td>{env?.size ?? '—'}</td>
      <td class="num">{price !== undefined ? money(price) : '—'}</td>
      <td>
        <Ago at={agent.created_at} />
      </td>
    </tr>
  );
}

function AgentsTable(props: { agents: Agent[]; prices: Map<string, number> }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label="Table (scrolls sideways on narrow screens)">
      <table class="agents">
        <caption class="sr-only">Agents and their tool environments</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Environment</th>
            <th scope="col">Status</th>
            <th scope="col">Ready</th>
            <th scope="col">Region</th>
            <th scope="col">Size</th>
            <th scope="col" class="num">Price / month</th>
            <th scope="col">Age</th>
          </tr>
        </thead>
        <tbody>
          {props.agents.map((a) => (
            <AgentRow key={a.id} agent={a} prices={props.prices} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Pager(props: { page: number; pages: number; onPage: (p: number) => void }) {
  if (props.pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages of agents">
      <button type="button" class="secondary" disabled={props.page === 0} onClick={() => props.onPage(props.page - 1)}>
        Previous
      </button>
      <span>
        Page {props.page + 1} of {props.pages}
      </span>
      <button type="button" class="secondary" disabled={props.page >= props.pages - 1} onClick={() => props.onPage(props.page + 1)}>
        Next
      </button>
    </nav>
  );
}

function Toolbar(props: { search: string; filter: string; count: string; onSearch: (s: string) => void; onFilter: (f: string) => void }) {
  return (
    <div class="toolbar" role="search">
      <label for="agent-search">Search</label>
      <input id="agent-search" type="search" placeholder="name, description or region" value={props.search} onInput={(e) => props.onSearch((e.target as HTMLInputElement).value)} />
      <label for="agent-filter">Environment</label>
      <select id="agent-filter" value={props.filter} onChange={(e) => props.onFilter((e.target as HTMLSelectElement).value)}>
        <option value="all">All</option>
        <option value="on">On</option>
        <option value="off">Off</option>
        <option value="not-ready">On, not Ready</option>
      </select>
      <span class="muted" role="status" aria-live="polite">
        {props.count}
      </span>
    </div>
  );
}

function countText(agents: Agent[] | undefined, shown: number, done: boolean): string {
  if (!agents) return '';
  return `${shown} of ${agents.length} agent${agents.length === 1 ? '' : 's'}${done ? '' : ' (loading more…)'}`;
}

function Listing(props: { agents: Agent[] | undefined; shown: Agent[]; error: unknown; can: Abilities; children: ComponentChildren }) {
  const { agents, shown } = props;
  if (!agents) return props.error ? null : <Loading label="Loading agents…" />;
  if (agents.length === 0) return <Empty>No agents yet.{props.can.write ? ' Create one to give it a tool environment.' : ''}</Empty>;
  if (shown.length === 0) return <Empty>No agent matches this search and filter.</Empty>;
  return <>{props.children}</>;
}

export function AgentsPage(props: { can: Abilities; query: URLSearchParams }) {
  const { agents, done, error, reload } = useAllAgents();
  const options = useApi<DoOptions>('/v1/digitalocean/options');
  const [filter, setFilter] = useState(props.query.get('filter') ?? 'all');
  const [search, setSearch] = useState(props.query.get('q') ?? '');
  const [page, setPage] = useState(0);
  const prices = useMemo(() => new Map((options.data?.sizes ?? []).map((s) => [s.slug, s.price_monthly])), [options.data]);
  const shown = useMemo(() => (agents ?? []).filter((a) => matches(a, filter, search)), [agents, filter, search]);
  const pages = Math.max(1, Math.ceil(shown.length / ROWS));
  const current = Math.min(page, pages - 1);
  useEffect(() => setPage(0), [filter, search]);

  return (
    <section aria-labelledby="agents-title">
      <div class="page-head">
        <h1 id="agents-title">Agents</h1>
        {props.can.write ? <CreateAgent onCreated={(a) => navigate(`/agents/${encodeURIComponent(a.name)}`)} /> : null}
      </div>
      <Toolbar search={search} filter={filter} count={countText(agents, shown.length, done)} onSearch={setSearch} onFilter={setFilter} />
      {error ? <ErrorBox error={error} retry={reload} /> : null}
      <Listing agents={agents} shown={shown} error={error} can={props.can}>
        <AgentsTable agents={shown.slice(current * ROWS, (current + 1) * ROWS)} prices={prices} />
        <Pager page={current} pages={pages} onPage={setPage} />
      </Listing>
    </section>
  );
}

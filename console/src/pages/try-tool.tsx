/**
 * "Try it": one MCP tool of the agent called through its gateway (`/v1/agents/{id}/mcp`),
 * with arguments from a form generated from the tool's input schema. The list comes from
 * the gateway's own `tools/list`, so names (`<instance>__<tool>`) and schemas are what an
 * agent platform sees. Operators and admins only — the gateway refuses a viewer's session —
 * and every call is in the gateway's audit under the session's token name.
 */
import { useEffect, useState } from 'preact/hooks';
import { Dialog, ErrorBox, Loading } from '../components.tsx';
import { McpError, mcpRequest } from '../mcp.ts';
import type { JsonSchema } from '../types.ts';
import { type ConfigValues, initialValues, SchemaForm, toConfig } from './schema-form.tsx';

interface GatewayTool {
  name: string;
  description?: string;
  inputSchema?: JsonSchema;
}

interface CallResult {
  content?: { type: string; text?: string }[];
  structuredContent?: unknown;
  isError?: boolean;
}

const MAX_PAGES = 10;

/** Every tool the agent's gateway lists (paginated). */
async function listGatewayTools(agentId: string, signal: AbortSignal): Promise<GatewayTool[]> {
  const tools: GatewayTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const result = await mcpRequest<{ tools: GatewayTool[]; nextCursor?: string }>(agentId, 'tools/list', cursor ? { cursor } : {}, signal);
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

function useGatewayTools(agentId: string): { tools?: GatewayTool[]; error?: unknown } {
  const [state, setState] = useState<{ tools?: GatewayTool[]; error?: unknown }>({});
  useEffect(() => {
    const abort = new AbortController();
    listGatewayTools(agentId, abort.signal).then(
      (tools) => setState({ tools }),
      (error: unknown) => !abort.signal.aborted && setState({ error }),
    );
    return () => abort.abort();
  }, [agentId]);
  return state;
}

/** An McpError as the ErrorBox shows it: its JSON-RPC code with its message. */
const shown = (error: unknown) => (error instanceof McpError ? new Error(`MCP error ${error.code}: ${error.message}`) : error);

function Result(props: { result: CallResult }) {
  const { result } = props;
  const blocks = result.content ?? [];
  return (
    <div class={`try-result${result.isError ? ' failed' : ''}`}>
      <h3>{result.isError ? 'The tool answered with an error' : 'Result'}</h3>
      {blocks.length === 0 && result.structuredContent === undefined ? <p class="muted">No content.</p> : null}
      {blocks.map((b, i) => (
        <pre key={i} tabIndex={0}>
          {b.type === 'text' ? b.text : JSON.stringify(b, null, 2)}
        </pre>
      ))}
      {result.structuredContent !== undefined ? <pre tabIndex={0}>{JSON.stringify(result.structuredContent, null, 2)}</pre> : null}
    </div>
  );
}

function CallForm(props: { agentId: string; tool: GatewayTool }) {
  const schema = props.tool.inputSchema ?? {};
  const [values, setValues] = useState<ConfigValues>(() => initialValues(schema));
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ result?: CallResult; error?: unknown }>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    const { config: args, problems: found } = toConfig(schema, values);
    setProblems(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    setOutcome({});
    try {
      setOutcome({ result: await mcpRequest<CallResult>(props.agentId, 'tools/call', { name: props.tool.name, arguments: args }) });
    } catch (error) {
      setOutcome({ error });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <SchemaForm
        idPrefix="try-arg"
        template={schema}
        values={values}
        path="arguments"
        legend="Arguments"
        none="This tool takes no arguments."
        errorAt={(field) => problems[field.slice('arguments.'.length)]}
        onChange={setValues}
      />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Calling…' : 'Call'}
        </button>
      </div>
      <div aria-live="polite">
        {outcome.result ? <Result result={outcome.result} /> : null}
        {outcome.error ? <ErrorBox error={shown(outcome.error)} /> : null}
      </div>
    </form>
  );
}

function ToolPicker(props: { agentId: string; tools: GatewayTool[]; initial: string }) {
  const [picked, setPicked] = useState<string | undefined>(undefined);
  const name = picked ?? (props.tools.some((t) => t.name === props.initial) ? props.initial : props.tools[0]!.name);
  const tool = props.tools.find((t) => t.name === name)!;
  return (
    <>
      <label for="try-tool">MCP tool (as the gateway names it)</label>
      <select id="try-tool" value={tool.name} onChange={(e) => setPicked((e.target as HTMLSelectElement).value)}>
        {props.tools.map((t) => (
          <option key={t.name} value={t.name}>
            {t.name}
          </option>
        ))}
      </select>
      {tool.description ? <p class="help">{tool.description}</p> : null}
      <CallForm key={tool.name} agentId={props.agentId} tool={tool} />
    </>
  );
}

/** The dialog, opened on one MCP tool of one instance (`<instance>__<tool>` when the gateway kept the name plain). */
export function TryToolDialog(props: { agentId: string; instanceName: string; mcpTool: string; open: boolean; onClose: () => void }) {
  const { tools, error } = useGatewayTools(props.agentId);
  return (
    <Dialog title={`Try ${props.mcpTool} of ${props.instanceName}`} open={props.open} onClose={props.onClose}>
      <p class="help">Calls the tool through this agent's MCP gateway, as an agent platform would; the call is audited under your token's name.</p>
      {error ? <ErrorBox error={shown(error)} /> : null}
      {!tools && !error ? <Loading label="Asking the gateway for the agent's MCP tools…" /> : null}
      {tools?.length === 0 ? <p>The gateway lists no MCP tools for this agent: none of its tools is running.</p> : null}
      {tools?.length ? <ToolPicker agentId={props.agentId} tools={tools} initial={`${props.instanceName}__${props.mcpTool}`} /> : null}
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

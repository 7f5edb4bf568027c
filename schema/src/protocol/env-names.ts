/**
 * Environment variables a tool's spec may never set, whoever asks: the ones the agent sets
 * itself (where the tool listens, its identity and config, its home and search path) and the
 * ones that make a loader or an interpreter run code of the caller's choosing before the
 * tool's own (`NODE_OPTIONS=--require …`, `LD_PRELOAD`, `BASH_ENV`, …). The controller refuses
 * them when a catalog entry or a secret binding names them (400); the agent refuses a spec
 * that carries them whatever the controller says, and sets its own variables last.
 * The list is written down in docs/security.md; names compare case-insensitively.
 */

/** Exact names (upper case). */
const RESERVED_NAMES = new Set([
  // The agent's own: where the tool listens, who it is, its home and search path.
  'PORT',
  'HOST',
  'HOME',
  'PATH',
  'SHELL',
  // Node.js: options, module search path, trust store, TLS checks.
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_REPL_EXTERNAL_MODULE',
  // The dynamic loader and libc.
  'GCONV_PATH',
  'GLIBC_TUNABLES',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'RES_OPTIONS',
  'NLSPATH',
  'MALLOC_CHECK_',
  'MALLOC_TRACE',
  // Shells.
  'BASH_ENV',
  'ENV',
  'SHELLOPTS',
  'BASHOPTS',
  'PS4',
  'PROMPT_COMMAND',
  'IFS',
  'CDPATH',
  // Other interpreters.
  'PYTHONPATH',
  'PYTHONHOME',
  'PYTHONSTARTUP',
  'PYTHONINSPECT',
  'PYTHONUSERBASE',
  'PYTHONWARNINGS',
  'PYTHONBREAKPOINT',
  'PERL5LIB',
  'PERL5OPT',
  'PERLLIB',
  'PERL5DB',
  'RUBYOPT',
  'RUBYLIB',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS',
  'CLASSPATH',
  // Trust stores of TLS clients (a tool's secrets would go to whoever the caller trusts).
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'CURL_CA_BUNDLE',
  'REQUESTS_CA_BUNDLE',
  // git, which package managers run.
  'GIT_SSH',
  'GIT_SSH_COMMAND',
  'GIT_EXEC_PATH',
  'GIT_ASKPASS',
]);

/** Prefixes (upper case): toolbelt's own, the loader's, npm's configuration, exported shell functions. */
const RESERVED_PREFIXES = ['TOOLBELT_', 'LD_', 'DYLD_', 'NPM_CONFIG_', 'BASH_FUNC_', 'GIT_CONFIG_'];

/** Whether a tool's spec may not set this variable. */
export function isReservedEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return RESERVED_NAMES.has(upper) || RESERVED_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/** The reserved names among `names`, in their order. */
export function reservedEnvNames(names: Iterable<string>): string[] {
  return [...names].filter(isReservedEnvName);
}

/** The reserved variables a spec asks for (its `env` and `secretEnv`), if any. */
export function reservedInSpec(spec: { env: Record<string, string>; secretEnv: readonly string[] }): string[] {
  return [...new Set(reservedEnvNames([...Object.keys(spec.env), ...spec.secretEnv]))];
}

/** A description of the rule for messages (names a few, not the whole list). */
export const RESERVED_ENV_HINT =
  'the agent sets PORT, HOST, HOME, PATH and TOOLBELT_* itself and refuses loader and interpreter variables (NODE_OPTIONS, LD_*, BASH_ENV, PYTHONPATH, …); see docs/security.md';

/* global module */
// Stands in, in the agent release, for modules its dependencies load but the agent never
// calls: dockerode's BuildKit session (@grpc/grpc-js, @grpc/proto-loader — image builds) and
// docker-modem's ssh:// transport (ssh2, which allocates 16 MiB of WebAssembly memory on load).
// Bundled, they would cost a third of the agent's memory for nothing; called, they say so.
const unused = (name) =>
  new Proxy(function () {}, {
    get: (_target, key) => (key === '__esModule' ? false : unused(`${name}.${String(key)}`)),
    apply: () => {
      throw new Error(`${name} is not part of the toolbelt agent release (the agent uses the Docker engine's unix socket, no ssh:// and no builds)`);
    },
    construct: () => {
      throw new Error(`${name} is not part of the toolbelt agent release (the agent uses the Docker engine's unix socket, no ssh:// and no builds)`);
    },
  });
module.exports = unused('module');

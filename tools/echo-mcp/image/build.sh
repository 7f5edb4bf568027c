#!/usr/bin/env bash
# Builds the echo MCP server's container image without a base image (none can be pulled
# here): a root filesystem holding this machine's node binary (and the libraries it links),
# the packed @toolbelt/echo-mcp with its node_modules; `podman import` makes it an image
# whose command runs the server over Streamable HTTP on 0.0.0.0:$PORT; then it is pushed to
# the local registry. Usage: build.sh [REGISTRY (default 127.0.0.1:5000)]
# The catalog's `echo-docker` entry names the result: REGISTRY/toolbelt/echo-mcp:VERSION.
set -euo pipefail
REGISTRY="${1:-127.0.0.1:5000}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PKG="$(cd "$HERE/.." && pwd)"
VERSION="$(node -p "require('$PKG/package.json').version")"
IMAGE="$REGISTRY/toolbelt/echo-mcp:$VERSION"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOT="$WORK/rootfs"
mkdir -p "$ROOT/app" "$ROOT/usr/local/bin" "$ROOT/tmp"

# The package and its dependencies, installed as a droplet agent would.
(cd "$PKG" && npm pack --pack-destination "$WORK" --loglevel=error >/dev/null)
TARBALL="$(ls "$WORK"/toolbelt-echo-mcp-*.tgz)"
(cd "$ROOT/app" && echo '{"name":"echo-image","private":true}' > package.json \
  && npm install --omit=dev --no-package-lock --no-audit --no-fund --loglevel=error "$TARBALL" >/dev/null)

# node and the shared libraries it needs (ldd), at the same paths.
NODE="$(readlink -f "$(command -v node)")"
cp "$NODE" "$ROOT/usr/local/bin/node"
for lib in $(ldd "$NODE" | grep -o '/[^ ]*'); do
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done

tar -C "$ROOT" -cf "$WORK/rootfs.tar" .
podman import \
  --change 'ENV PORT=8000' --change 'ENV HOST=0.0.0.0' \
  --change 'ENTRYPOINT ["/usr/local/bin/node", "/app/node_modules/@toolbelt/echo-mcp/bin/echo-mcp.mjs"]' \
  --change 'CMD ["--transport", "http"]' \
  "$WORK/rootfs.tar" "$IMAGE" >/dev/null
podman push --tls-verify=false "$IMAGE" >/dev/null
echo "$IMAGE"

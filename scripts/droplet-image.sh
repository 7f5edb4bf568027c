#!/usr/bin/env bash
# A stand-in for a droplet's userland, made from Debian's packages alone: the debootstrapped
# Debian of scripts/debian-base-image.sh plus systemd (so that it boots with systemd as PID 1
# under podman, as a droplet does) and the packages a droplet's user_data asks cloud-init to
# install, given as arguments:
#
#   bash scripts/droplet-image.sh curl ca-certificates xz-utils
#
# The image is tagged by its content (the base image's id and the sorted package list), so a
# second run with the same packages finds it in podman's store and returns at once; apt runs
# only when the list or the base changes. Run as root. Prints the image's name on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'droplet-image: %s\n' "$*" >&2; }

[ "$#" -gt 0 ] || { log "usage: droplet-image.sh PACKAGE..."; exit 2; }
for p in "$@"; do
  [[ "$p" =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || { log "not a Debian package name: $p"; exit 2; }
done

bash scripts/debian-base-image.sh >/dev/null
base=localhost/toolbelt-debian:bookworm
packages="$(printf '%s\n' systemd systemd-sysv "$@" | sort -u | tr '\n' ' ')"
base_id="$(podman image inspect --format '{{.Id}}' "$base")"
tag="$(printf '%s\n%s\n' "$base_id" "$packages" | sha256sum | cut -c 1-16)"
image="localhost/toolbelt-droplet:${tag}"

if ! podman image exists "$image"; then
  log "building $image (apt-get install ${packages% })"
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
  cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM $base
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages% } >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
CONTAINERFILE
  podman build -q --network host -t "$image" "$ctx" >/dev/null
fi
echo "$image"

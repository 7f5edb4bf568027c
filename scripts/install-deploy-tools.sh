#!/usr/bin/env bash
# Installs from Debian's packages what the deployment checks need (idempotent, as root):
# debootstrap (the image's Debian base, scripts/debian-base-image.sh), prometheus (for
# promtool, which checks deploy/prometheus/alerts.yaml), openssl (the TLS tests make
# their CAs with it) and xz-utils (the droplet install test packs its Node mirror's tarball
# with it, controller/test/e2e/node-mirror.ts). .ci/run calls it.
set -euo pipefail
PACKAGES=(debootstrap prometheus openssl xz-utils)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deploy-tools: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v promtool >/dev/null && command -v debootstrap >/dev/null && command -v openssl >/dev/null && command -v xz >/dev/null

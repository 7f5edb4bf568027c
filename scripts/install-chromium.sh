#!/usr/bin/env bash
# Installs Debian's chromium for the console's browser tests (playwright-core drives
# /usr/bin/chromium; `npx playwright install` cannot download browsers here). Idempotent:
# nothing happens when the package is installed. CI runs it before the tests:
#   bash scripts/install-chromium.sh
set -euo pipefail
log() { printf 'install-chromium: %s\n' "$*" >&2; }

if dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed' && [ -x /usr/bin/chromium ]; then
  log "chromium is installed ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs a Debian package)"; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
log "installed $(/usr/bin/chromium --version)"

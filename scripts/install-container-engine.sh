#!/usr/bin/env bash
# Installs and starts what the droplet agent's tests need from the machine (see
# shared/MACHINE.md): a real container engine serving the Docker Engine API (Debian's
# podman), a local image registry (Debian's docker-registry) listed as insecure, busybox
# (a static binary the tests build their image from) and cloud-init (schema validation).
#
# Idempotent: packages already present are not reinstalled, files are rewritten only when
# they differ, and services already answering are left alone. CI runs it before the tests:
#   bash scripts/install-container-engine.sh
# Afterwards: Docker Engine API on unix:///run/toolbelt-podman.sock, registry on
# http://127.0.0.1:5000. Override with TOOLBELT_PODMAN_SOCKET / TOOLBELT_REGISTRY_PORT.
set -euo pipefail

SOCKET="${TOOLBELT_PODMAN_SOCKET:-/run/toolbelt-podman.sock}"
REGISTRY_PORT="${TOOLBELT_REGISTRY_PORT:-5000}"
REGISTRY_ADDR="127.0.0.1:${REGISTRY_PORT}"
STATE_DIR="${TOOLBELT_ENGINE_STATE_DIR:-/var/lib/toolbelt-engine}"
LOG_DIR="${TOOLBELT_ENGINE_LOG_DIR:-/var/log/toolbelt}"
PACKAGES=(podman runc docker-registry busybox-static cloud-init curl)

log() { printf 'install-container-engine: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (it installs packages and writes /etc/containers)"; exit 1
fi

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then log "packages present"; return; fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# write_if_changed PATH: writes stdin to PATH unless PATH already holds exactly that.
write_if_changed() {
  local path="$1" tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  mkdir -p "$(dirname "$path")"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then rm -f "$tmp"; return; fi
  mv "$tmp" "$path"; chmod 0644 "$path"; log "wrote $path"
}

configure_engine() {
  # The defaults fail on these machines on rlimits and cgroups (MACHINE.md).
  write_if_changed /etc/containers/containers.conf <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
CONF
  # A drop-in, so Debian's own registries.conf stays untouched.
  write_if_changed /etc/containers/registries.conf.d/50-toolbelt-local.conf <<CONF
[[registry]]
location = "${REGISTRY_ADDR}"
insecure = true
CONF
  write_if_changed /etc/toolbelt/registry.yml <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${STATE_DIR}/registry
  delete:
    enabled: true
http:
  addr: ${REGISTRY_ADDR}
CONF
  mkdir -p "${STATE_DIR}/registry" "$LOG_DIR"
}

engine_answers() { curl -fsS --max-time 3 --unix-socket "$SOCKET" http://d/v1.41/version >/dev/null 2>&1; }
registry_answers() { curl -fsS --max-time 3 "http://${REGISTRY_ADDR}/v2/" >/dev/null 2>&1; }

# wait_for NAME CHECK: polls CHECK for up to 30 s.
wait_for() {
  local name="$1" check="$2"
  for _ in $(seq 1 60); do
    if "$check"; then log "$name answers"; return 0; fi
    sleep 0.5
  done
  log "$name did not answer within 30 s; see ${LOG_DIR}"; return 1
}

start_engine() {
  if engine_answers; then log "engine already answers on ${SOCKET}"; return; fi
  rm -f "$SOCKET"
  log "starting podman system service on ${SOCKET}"
  setsid nohup podman system service --time=0 "unix://${SOCKET}" \
    >>"${LOG_DIR}/podman-service.log" 2>&1 </dev/null &
  wait_for "engine" engine_answers
}

start_registry() {
  if registry_answers; then log "registry already answers on ${REGISTRY_ADDR}"; return; fi
  log "starting docker-registry on ${REGISTRY_ADDR}"
  setsid nohup docker-registry serve /etc/toolbelt/registry.yml \
    >>"${LOG_DIR}/registry.log" 2>&1 </dev/null &
  wait_for "registry" registry_answers
}

install_packages
configure_engine
start_engine
start_registry
log "ready: DOCKER_HOST=unix://${SOCKET} registry=${REGISTRY_ADDR}"

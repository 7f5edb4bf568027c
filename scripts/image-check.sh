#!/usr/bin/env bash
# CI: builds the controller's image (deploy/Containerfile) with podman from a base made from
# Debian's packages (scripts/debian-base-image.sh, cached), checks its size, then runs its
# `migrate` (no master key: it needs none) and `server` (with one: on Postgres it refuses to
# start without) commands against this machine's Postgres with a DigitalOcean simulator URL
# and token (no embedded anything): /readyz must answer 200, the image's
# HEALTHCHECK must pass, and SIGTERM must stop it with status 0.
#
#   bash scripts/image-check.sh          (as root; Postgres on 127.0.0.1:5432)
# Prints the image size. TOOLBELT_IMAGE_MAX_MB (default 250) fails a bigger image.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=localhost/toolbelt-controller:ci
MAX_MB="${TOOLBELT_IMAGE_MAX_MB:-250}"
DB=toolbelt_image_ci
PG=postgres://postgres@127.0.0.1:5432
SIM_TOKEN="dop_v1_sim_image_check_$$"
log() { printf 'image-check: %s\n' "$*" >&2; }
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

base="$(bash scripts/debian-base-image.sh)"
log "building $IMAGE from $base"
# This machine reaches the npm registry through a TLS-inspecting proxy whose CA is in the
# system bundle: the build gets that bundle as a secret (not stored in the image).
ca_secret=()
[ -s /etc/ssl/certs/ca-certificates.crt ] && ca_secret=(--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt)
podman build --format docker --network=host -q -f deploy/Containerfile "${ca_secret[@]}" \
  --build-arg "BASE=$base" --build-arg "BUILD_BASE=${base}-build" -t "$IMAGE" . >/dev/null
bytes="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
mb=$((bytes / 1024 / 1024))
log "image size: ${mb} MB (limit ${MAX_MB} MB)"
[ "$mb" -lt "$MAX_MB" ] || { log "the image is ${mb} MB, over ${MAX_MB} MB"; exit 1; }
[ "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = "10001:10001" ] || { log "the image does not run as 10001"; exit 1; }

psql -q "$PG/postgres" -c "drop database if exists $DB with (force)" -c "create database $DB"
sim_port="$(free_port)"; port="$(free_port)"
# In a process group of its own: npm runs tsx, which runs node; the cleanup stops them all.
setsid npm run --silent simulator -- --port "$sim_port" --token "$SIM_TOKEN" >/dev/null 2>&1 &
sim_pid=$!
container=""
cleanup() {
  [ -n "$container" ] && podman rm -f "$container" >/dev/null 2>&1 || true
  kill -TERM -- "-$sim_pid" 2>/dev/null || kill "$sim_pid" 2>/dev/null || true
  psql -q "$PG/postgres" -c "drop database if exists $DB with (force)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "migrate"
podman run --rm --network=host -e "DATABASE_URL=$PG/$DB" "$IMAGE" migrate

log "server (DATABASE_URL + the simulator's URL, port $port)"
container="$(podman run -d --network=host \
  -e "DATABASE_URL=$PG/$DB" -e "PORT=$port" \
  -e "DIGITALOCEAN_TOKEN=$SIM_TOKEN" -e "DIGITALOCEAN_API_URL=http://127.0.0.1:$sim_port/v2" \
  -e "TOOLBELT_AGENT_URL=ws://127.0.0.1:$port/agent/v1" \
  -e "TOOLBELT_MASTER_KEY=$(head -c 32 /dev/urandom | base64)" \
  "$IMAGE")"
for _ in $(seq 1 120); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)"
  [ "$code" = 200 ] && break
  sleep 1
done
[ "$code" = 200 ] || { podman logs "$container" | tail -20; log "/readyz answered $code"; exit 1; }
podman healthcheck run "$container" || { log "the image's HEALTHCHECK failed"; exit 1; }
curl -sf -o /dev/null "http://127.0.0.1:$port/v1/packages/toolbelt-echo-mcp-1.0.0.tgz" || { log "the package shelf is empty"; exit 1; }

log "SIGTERM"
podman stop -t 30 "$container" >/dev/null
status="$(podman inspect --format '{{.State.ExitCode}}' "$container")"
[ "$status" = 0 ] || { podman logs "$container" | tail -20; log "exit status $status after SIGTERM"; exit 1; }
log "ok: ${mb} MB, migrate and server ran, /readyz 200, healthcheck passed, clean stop"

#!/usr/bin/env bash
# Runs the caddy-presign demo on this machine, nothing else needed but Go:
#   1. scripts/tools.sh go   installs versitygw (a small S3 server) when missing
#   2. builds ./caddy        with ./xcaddy.sh, or go build ./cmd/caddy without it
#   3. starts versitygw on 127.0.0.1:$DEMO_S3_PORT with a fresh private bucket
#      "demo" under .demo/, and seeds it (go run ./demo/seed in systest/); its
#      keys, new each run, are in .demo/s3.env for the README's quick start
#   4. runs ./caddy run --config demo/Caddyfile on http://127.0.0.1:$DEMO_PORT/
# It says one line per stage; the builds' output goes to .demo/build.log,
# named with its end when a build fails. Caddy logs errors only (a request
# answered with a 5xx included). DEMO_VERBOSE=1 shows everything: the builds'
# output, and Caddy's log and every request at level INFO.
# Ctrl-C or SIGTERM stops Caddy and versitygw. Ports: DEMO_PORT (default 8080)
# and DEMO_S3_PORT (default 8333).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
export DEMO_PORT="${DEMO_PORT:-8080}"
export DEMO_S3_PORT="${DEMO_S3_PORT:-8333}"
state="$PWD/.demo"

log() { echo "demo.sh: $*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

caddy_pid=""
vgw_pid=""
cleanup() {
  trap - INT TERM EXIT
  local pid
  for pid in "$caddy_pid" "$vgw_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -n "$vgw_pid" ]]; then log "stopped Caddy and versitygw"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$DEMO_PORT" "$DEMO_S3_PORT"; do
  [[ "$port" =~ ^[0-9]+$ ]] || die "port '$port' is not a number"
  if listening "$port"; then
    die "127.0.0.1:$port is in use; choose other ports, e.g. DEMO_PORT=9080 DEMO_S3_PORT=9333 ./demo.sh"
  fi
done

# Output of the builds: on the terminal with DEMO_VERBOSE=1, else in
# .demo/build.log, shown (its end) and named when a build fails.
mkdir -p "$state"
build_log="$state/build.log"
if [[ "${DEMO_VERBOSE:-}" == 1 ]]; then
  export DEMO_LOG_LEVEL=INFO
  quietly() { "$@"; }
else
  export DEMO_LOG_LEVEL=ERROR
  : >"$build_log"
  quietly() { "$@" >>"$build_log" 2>&1; }
fi
failed() {
  if [[ "${DEMO_VERBOSE:-}" != 1 ]]; then
    echo "demo.sh: $1 failed; the end of its log, $build_log:" >&2
    tail -n 20 "$build_log" >&2
  fi
  die "$1 failed"
}

# 1. tools
log "installing what is missing and building ./caddy (the first time: a few minutes)"
quietly ./scripts/tools.sh go || failed "installing versitygw and xcaddy (./scripts/tools.sh go)"
quietly ./scripts/tools.sh npm || failed "installing Uppy's bundle (./scripts/tools.sh npm)" # served by Caddy from .tools/npm

# 2. Caddy with the presign module (rebuilt when a Go source is newer)
stale="$(find . \( -name .git -o -name .tools -o -name .demo -o -path ./systest \) -prune -o \
  \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer caddy -print -quit 2>/dev/null || echo missing)"
has_presign() { # (no `| grep -q` under pipefail: an early exit of grep kills caddy with SIGPIPE)
  local mods
  mods="$(./caddy list-modules 2>/dev/null)" || return 1
  grep -qx http.handlers.presign <<<"$mods"
}
if [[ ! -x caddy || -n "$stale" ]] || ! has_presign; then
  if [[ ! -x ./xcaddy.sh ]]; then
    quietly go build -o caddy ./cmd/caddy || failed "building ./caddy (go build ./cmd/caddy)"
  elif ! quietly ./xcaddy.sh; then
    log "./xcaddy.sh failed (see $build_log); building with go build ./cmd/caddy instead"
    quietly go build -o caddy ./cmd/caddy || failed "building ./caddy (go build ./cmd/caddy)"
  fi
fi

# 3. the bucket: versitygw with a fresh data directory and random keys
# (given through the environment, so that they show in no process list)
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
export DEMO_ACCESS_KEY="DEMO$(rand_hex 8 | tr a-f A-F)"
export DEMO_SECRET_KEY="$(rand_hex 20)"
export DEMO_LINK_KEY="$(rand_hex 32)" # the local profile's link key
# the bucket's keys for another Caddy on this store (the README's quick start)
(umask 077 && printf 'DEMO_ACCESS_KEY=%s\nDEMO_SECRET_KEY=%s\n' "$DEMO_ACCESS_KEY" "$DEMO_SECRET_KEY" >"$state/s3.env")
rm -rf "$state/data"
mkdir -p "$state/data"
log "starting versitygw on 127.0.0.1:$DEMO_S3_PORT and seeding its bucket (log: .demo/versitygw.log)"
ROOT_ACCESS_KEY_ID="$DEMO_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$DEMO_SECRET_KEY" \
  .tools/bin/versitygw --port "127.0.0.1:$DEMO_S3_PORT" --region us-east-1 \
  posix "$state/data" >"$state/versitygw.log" 2>&1 &
vgw_pid=$!
(cd systest && quietly go run ./demo/seed -endpoint "http://127.0.0.1:$DEMO_S3_PORT" \
  -origin "http://127.0.0.1:$DEMO_PORT,http://localhost:$DEMO_PORT") ||
  failed "seeding the bucket (go run ./demo/seed; versitygw's log is .demo/versitygw.log)"

# 4. Caddy, in the background so that a signal reaches this script's trap
# (its storage and config folders under .demo/, not in your home)
log "starting Caddy: ./caddy run --config demo/Caddyfile"
XDG_DATA_HOME="$state/caddy/data" XDG_CONFIG_HOME="$state/caddy/config" \
  ./caddy run --config demo/Caddyfile &
caddy_pid=$!
for _ in $(seq 100); do
  listening "$DEMO_PORT" && break
  kill -0 "$caddy_pid" 2>/dev/null || break
  sleep 0.1
done
listening "$DEMO_PORT" || die "Caddy did not start (its output is above)"
cat <<BANNER

  caddy-presign demo: open http://127.0.0.1:$DEMO_PORT/
    Download   a private PDF, saved under its own name
    Gallery    six pictures that a reload takes from the browser's cache
    Browse     a folder of the bucket: open a subfolder, download a file
    Upload     a picture, through a signed form, straight to the bucket
    Uppy       large files in parts, each PUT straight to the bucket
  $(if [[ "$DEMO_LOG_LEVEL" == INFO ]]; then echo "Caddy logs every request (DEMO_VERBOSE=1)."; else echo "Caddy logs errors only; DEMO_VERBOSE=1 ./demo.sh shows every request."; fi)
  Ctrl-C (or SIGTERM) stops Caddy and versitygw.

BANNER
wait "$caddy_pid"

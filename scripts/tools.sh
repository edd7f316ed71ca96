#!/usr/bin/env bash
# Installs, when missing, every tool the tests and the demo need:
#   Go tools into <repo>/.tools/bin (versitygw, xcaddy, local-kms, gotestsum,
#   golangci-lint), pinned versions, each built once;
#   Debian packages chromium, wrk, python3-botocore, python3-boto3, curl and jq
#   (the manual's shell snippets, which the system tests run);
#   npm packages (Uppy's browser bundle, the Azurite emulator, Google's
#   @google-cloud/storage, which signs the URLs the GCS test server checks) into
#   <repo>/.tools/npm with npm ci from scripts/npm/package.json +
#   package-lock.json (pinned versions).
# Idempotent: when everything is present it only checks and exits (< 1 s).
# The Debian packages need root or sudo, and apt-get's package index.
#
# Usage: scripts/tools.sh [all|go|npm|apt]     (default: all)
set -euo pipefail

mode="${1:-all}"
case "$mode" in
  all | go | npm | apt) ;;
  -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "tools.sh: unknown mode '$mode' (use: all | go | npm | apt)" >&2
    exit 2
    ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"

# Go tools: "binary module-path package@version".
GO_TOOLS=(
  "versitygw github.com/versity/versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0"
  "xcaddy github.com/caddyserver/xcaddy github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5"
  "local-kms github.com/nsmithuk/local-kms github.com/nsmithuk/local-kms@v0.0.0-20260228092603-2a5e92d09ab6"
  "gotestsum gotest.tools/gotestsum gotest.tools/gotestsum@v1.13.0"
  "golangci-lint github.com/golangci/golangci-lint/v2 github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0"
)
APT_PACKAGES=(chromium wrk python3-botocore python3-boto3 curl jq)

log() { echo "tools.sh: $*"; }

# --- Debian packages (started first, in the background: network-bound while
# the Go installs are CPU-bound) ---
apt_pid=""
apt_log=""
if [[ "$mode" == all || "$mode" == apt ]]; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
      echo "tools.sh: missing Debian packages ${missing[*]} and no apt-get" >&2
      exit 1
    fi
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    log "installing Debian packages: ${missing[*]} (apt-get update + install)"
    apt_log="$(mktemp -t tools-apt.XXXXXX)"
    (
      export DEBIAN_FRONTEND=noninteractive
      $sudo apt-get update -q &&
        $sudo apt-get install -y -q "${missing[@]}"
    ) >"$apt_log" 2>&1 &
    apt_pid=$!
  fi
fi

# --- Go tools ---
if [[ "$mode" == npm || "$mode" == apt ]]; then
  GO_TOOLS=()
elif ! command -v go >/dev/null; then
  echo "tools.sh: the go command is not on PATH" >&2
  exit 1
fi
mkdir -p "$bin"
for entry in "${GO_TOOLS[@]}"; do
  read -r name mod pkgver <<<"$entry"
  want="${pkgver##*@}"
  have=""
  if [[ -x "$bin/$name" ]]; then
    have="$(go version -m "$bin/$name" 2>/dev/null | awk -v m="$mod" '$1 == "mod" && $2 == m { print $3 }')"
  fi
  if [[ "$have" == "$want" ]]; then
    continue
  fi
  log "installing $pkgver into $bin${have:+ (had $have)}"
  start=$SECONDS
  # Build outside the repo's module so its go.mod is neither read nor touched.
  (cd / && GOBIN="$bin" GOFLAGS= go install "$pkgver")
  log "installed $name $want in $((SECONDS - start))s"
done

if [[ -n "$apt_pid" ]]; then
  if ! wait "$apt_pid"; then
    cat "$apt_log" >&2
    echo "tools.sh: apt-get failed (output above)" >&2
    rm -f "$apt_log"
    exit 1
  fi
  tail -n 2 "$apt_log"
  rm -f "$apt_log"
  log "installed Debian packages"
fi

# --- npm packages: npm ci from the committed, pinned lock into .tools/npm,
# again only when the lock changed ---
if [[ "$mode" == all || "$mode" == npm ]]; then
  npm_dir="$root/.tools/npm"
  if ! cmp -s "$root/scripts/npm/package-lock.json" "$npm_dir/package-lock.json" ||
    [[ ! -d "$npm_dir/node_modules" ]]; then
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
      echo "tools.sh: node and npm are needed for the npm packages (scripts/npm/package.json); install Node.js 20 or later" >&2
      exit 1
    fi
    log "installing npm packages into $npm_dir (npm ci)"
    mkdir -p "$npm_dir"
    cp "$root/scripts/npm/package.json" "$root/scripts/npm/package-lock.json" "$npm_dir/"
    (cd "$npm_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
fi

# Final check: what the tests look for.
for entry in "${GO_TOOLS[@]}"; do
  read -r name _ <<<"$entry"
  [[ -x "$bin/$name" ]] || { echo "tools.sh: $bin/$name missing after install" >&2; exit 1; }
done
if [[ "$mode" == all || "$mode" == apt ]]; then
  /usr/bin/python3 -I -c 'import botocore, boto3' || {
    echo "tools.sh: /usr/bin/python3 -I cannot import botocore, boto3" >&2
    exit 1
  }
  for c in chromium wrk curl jq; do
    command -v "$c" >/dev/null || { echo "tools.sh: $c not on PATH after install" >&2; exit 1; }
  done
fi
if [[ "$mode" == all || "$mode" == npm ]]; then
  for f in uppy/dist/uppy.min.js .bin/azurite-blob @google-cloud/storage/package.json; do
    [[ -e "$root/.tools/npm/node_modules/$f" ]] || {
      echo "tools.sh: .tools/npm/node_modules/$f missing after npm ci" >&2
      exit 1
    }
  done
fi
log "all tools present ($mode)"

#!/usr/bin/env bash
# Installs, when missing, every tool the tests and the demo need:
#   Go tools into <repo>/.tools/bin (versitygw, xcaddy), pinned versions;
#   npm tools into <repo>/.tools/npm (Azurite), pinned by scripts/npm/package-lock.json;
#   Debian packages chromium, wrk, python3-botocore, python3-boto3.
# Idempotent: when everything is present it only checks and exits (< 1 s).
#
# Usage: scripts/tools.sh [all|go]     (default: all)
set -euo pipefail

mode="${1:-all}"
case "$mode" in
  all | go) ;;
  -h | --help)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "tools.sh: unknown mode '$mode' (use: all | go)" >&2
    exit 2
    ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"

# Go tools: "binary module-path package@version".
GO_TOOLS=(
  "versitygw github.com/versity/versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0"
  "xcaddy github.com/caddyserver/xcaddy github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5"
)
APT_PACKAGES=(chromium wrk python3-botocore python3-boto3)
# npm tools: the executables the tests look for in .tools/npm/node_modules/.bin;
# their packages and versions are scripts/npm/package.json and its lock file.
NPM_BINS=(azurite-blob)

log() { echo "tools.sh: $*"; }

# --- Debian packages (started first, in the background: network-bound while
# the Go installs are CPU-bound) ---
apt_pid=""
apt_log=""
if [[ "$mode" == all ]]; then
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
if ! command -v go >/dev/null; then
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

# --- npm tools: exactly the versions of the committed lock file ---
npm_dir="$root/.tools/npm"
if [[ "$mode" == all ]]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    msg="node and npm are needed for ${NPM_BINS[*]} (the Azure tests' emulator); install Node.js 20 or later"
    if [[ "${CI:-}" == true ]]; then
      echo "tools.sh: $msg" >&2
      exit 1
    fi
    log "$msg; skipping the npm tools (their tests skip outside CI)"
  elif ! cmp -s "$root/scripts/npm/package-lock.json" "$npm_dir/package-lock.json"; then
    log "installing npm tools into $npm_dir (npm ci)"
    mkdir -p "$npm_dir"
    cp "$root/scripts/npm/package.json" "$root/scripts/npm/package-lock.json" "$npm_dir/"
    if ! (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error); then
      rm -f "$npm_dir/package-lock.json" # not installed: try again next time
      echo "tools.sh: npm ci failed (output above)" >&2
      exit 1
    fi
  fi
fi

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

# Final check: what the tests look for.
for entry in "${GO_TOOLS[@]}"; do
  read -r name _ <<<"$entry"
  [[ -x "$bin/$name" ]] || { echo "tools.sh: $bin/$name missing after install" >&2; exit 1; }
done
if [[ "$mode" == all ]]; then
  /usr/bin/python3 -I -c 'import botocore, boto3' || {
    echo "tools.sh: /usr/bin/python3 -I cannot import botocore, boto3" >&2
    exit 1
  }
  if command -v npm >/dev/null; then
    for b in "${NPM_BINS[@]}"; do
      [[ -x "$npm_dir/node_modules/.bin/$b" ]] || { echo "tools.sh: $npm_dir/node_modules/.bin/$b missing after npm ci" >&2; exit 1; }
    done
  fi
  for c in chromium wrk; do
    command -v "$c" >/dev/null || { echo "tools.sh: $c not on PATH after install" >&2; exit 1; }
  done
fi
log "all tools present ($mode)"

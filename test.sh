#!/usr/bin/env bash
# The one command that runs every check of caddy-presign on a fresh machine,
# in both modules: the module itself (.) and its system tests (systest/):
#   1. scripts/tools.sh      installs missing tools (versitygw, xcaddy, chromium, wrk, boto3)
#   2. gofmt                 fails listing unformatted files (both modules)
#   3. go vet ./...          in . and in systest/
#   4. go test -race -count=1 ./...   in . (unit tests, seconds) and in
#                            systest/ (versitygw, Caddy processes, Chromium: minutes)
#   5. every Fuzz* target of both modules, each for $FUZZTIME (default 30s; FUZZTIME=0 skips)
# Every step runs even if an earlier one failed (except tools.sh); the exit
# code is non-zero if any step failed. In CI (CI=true) no test may skip.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
FUZZTIME="${FUZZTIME:-30s}"
TEST_TIMEOUT="${TEST_TIMEOUT:-20m}"

failed=()
summary=()
step() { echo; echo "==> $*"; }
result() { # name rc start
  local secs=$((SECONDS - $3))
  if [[ "$2" == 0 ]]; then
    summary+=("$1 ok (${secs}s)")
  else
    summary+=("$1 FAILED (${secs}s)")
    failed+=("$1")
  fi
}

t0=$SECONDS
step "scripts/tools.sh"
if ! ./scripts/tools.sh all; then
  echo "test.sh: scripts/tools.sh failed; not running the tests" >&2
  exit 1
fi
# Tools installed into .tools/bin are found there by the tests; also expose
# them to anything that looks in PATH.
export PATH="$PWD/.tools/bin:$PATH"
result tools 0 "$t0"

t=$SECONDS
step "gofmt -l"
mapfile -t gofiles < <(find . \( -name .git -o -name .tools -o -name node_modules -o -name vendor -o -name testdata \) -prune -o -name '*.go' -type f -print | sort)
unformatted="$(gofmt -l "${gofiles[@]}" 2>&1)"
rc=$?
if [[ $rc != 0 || -n "$unformatted" ]]; then
  echo "gofmt: these files need formatting (run: gofmt -w FILE):"
  echo "$unformatted"
  result gofmt 1 "$t"
else
  echo "gofmt: ${#gofiles[@]} files clean"
  result gofmt 0 "$t"
fi

# The modules: the one users build, and its system tests.
modules=(. systest)

for mod in "${modules[@]}"; do
  t=$SECONDS
  step "go vet ./... (in $mod)"
  (cd "$mod" && go vet ./...)
  result "vet:$mod" $? "$t"
done

for mod in "${modules[@]}"; do
  t=$SECONDS
  step "go test -race -count=1 -timeout $TEST_TIMEOUT ./... (in $mod)"
  (cd "$mod" && go test -race -count=1 -timeout "$TEST_TIMEOUT" ./...)
  result "test:$mod" $? "$t"
done

# Fuzz targets: every `func FuzzXxx(f *testing.F)` in a _test.go file.
if [[ "$FUZZTIME" != 0 && "$FUZZTIME" != 0s ]]; then
  mapfile -t targets < <(
    grep -rEo --include='*_test.go' --exclude-dir=.git --exclude-dir=.tools --exclude-dir=node_modules --exclude-dir=vendor --exclude-dir=testdata \
      '^func Fuzz[A-Za-z0-9_]*\([A-Za-z0-9_]+ \*testing\.F\)' . |
      sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u
  )
  if ((${#targets[@]} == 0)); then
    echo; echo "==> fuzz: no Fuzz* targets found"
  fi
  for entry in "${targets[@]}"; do
    read -r dir name <<<"$entry"
    label="${dir#./}"
    [[ "$label" == . ]] && label=root
    # run it in its own module: systest/... from systest, the rest from here
    mod=.
    case "$dir" in ./systest | ./systest/*) mod=systest dir=".${dir#./systest}" ;; esac
    t=$SECONDS
    step "fuzz $name in $label for $FUZZTIME"
    (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -timeout "$TEST_TIMEOUT" "$dir")
    result "fuzz:$label.$name" $? "$t"
  done
else
  echo; echo "==> fuzz: disabled (FUZZTIME=$FUZZTIME)"
fi

echo
joined="$(printf '%s, ' "${summary[@]}")"
echo "test.sh: ${joined%, }; total $((SECONDS - t0))s"
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi

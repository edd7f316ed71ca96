#!/usr/bin/env bash
# The one command that runs every check of caddy-presign on a fresh machine,
# in both modules: the module itself (.) and its system tests (systest/):
#   1. scripts/tools.sh      installs missing tools (versitygw, xcaddy, the npm
#                            packages; Debian's chromium, wrk, python3-botocore,
#                            python3-boto3 with apt-get: root or sudo)
#   2. gofmt                 fails listing unformatted files (both modules)
#   3. go vet ./...          in . and in systest/
#   4. go test -race -count=1 ./...   in . (unit tests, seconds) and in
#                            systest/ (versitygw, Caddy processes, Chromium: minutes)
#   5. every Fuzz* target of both modules, each for $FUZZTIME (default 30s; FUZZTIME=0 skips)
# Each step prints a line when it starts and when it ends, with its time, and
# a line a minute while it runs (for the tests: which ones are running).
# The tests' output goes through systest/testreport (go test -json): a line
# per package, each skipped test with its reason, each failed test's whole
# output. At the end: the time of each step, the tests run, passed, failed
# and skipped of each module, and a closing line "N passed, N failed,
# N skipped", where failed also counts each check that failed outside a test
# (gofmt, vet, a package that did not build). Every step runs even if an
# earlier one failed (except tools.sh); the exit code is non-zero if any step
# failed. In CI (CI=true) no test may skip.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
FUZZTIME="${FUZZTIME:-30s}"
TEST_TIMEOUT="${TEST_TIMEOUT:-20m}"

work="$(mktemp -d -t test.sh.XXXXXX)"
counts="$work/counts" # one line per step: module step run passed failed skipped
report="$work/testreport"
heartbeat_pid=""
cleanup() {
  if [[ -n "$heartbeat_pid" ]]; then kill "$heartbeat_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

took() { # seconds -> 1m05s
  if (($1 >= 60)); then printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); else printf '%ds' "$1"; fi
}

# begin NAME MODULE [--quiet] DESCRIPTION...: a step starts; --quiet is for
# the steps whose own output says each minute what runs (testreport).
failed=()
summary=()
begin() {
  step_name=$1 step_module=$2 step_start=$SECONDS
  shift 2
  local quiet=""
  if [[ "${1:-}" == --quiet ]]; then quiet=1 && shift; fi
  echo
  echo "==> $(date -u +%H:%M:%S) $step_name: $*"
  if [[ -z "$quiet" ]]; then
    (
      sleeper=""
      trap 'kill $sleeper 2>/dev/null; exit 0' TERM
      n=0
      while :; do
        sleep 60 &
        sleeper=$!
        wait "$sleeper"
        n=$((n + 1))
        echo "... $step_name ${n}m: still running"
      done
    ) &
    heartbeat_pid=$!
  fi
}
# end RC: the step ends; a failure outside the tests counts as one failed.
end() {
  if [[ -n "$heartbeat_pid" ]]; then
    kill "$heartbeat_pid" 2>/dev/null
    wait "$heartbeat_pid" 2>/dev/null
    heartbeat_pid=""
  fi
  local secs=$((SECONDS - step_start)) verdict=ok
  if [[ "$1" != 0 ]]; then
    verdict=FAILED
    failed+=("$step_name")
  fi
  echo "<== $(date -u +%H:%M:%S) $step_name $verdict in $(took "$secs")"
  summary+=("$step_name $verdict $(took "$secs")")
}
# gotest NAME MODULE ARGS...: go test -json ARGS in MODULE, through testreport.
gotest() {
  local name=$1 mod=$2
  shift 2
  (cd "$mod" && go test -json "$@" 2>&1) | "$report" -step "$name" -module "$mod" -counts "$counts"
  local rc=("${PIPESTATUS[@]}")
  if [[ "${rc[0]}" != 0 && "${rc[1]}" == 0 ]]; then # go test failed, no test did
    echo "$mod $name 0 0 1 0" >>"$counts"
  fi
  end $((rc[0] || rc[1]))
}
# check RC: the end of a step that is not a test; its failure is counted.
check() {
  if [[ "$1" != 0 ]]; then echo "$step_module $step_name 0 0 1 0" >>"$counts"; fi
  end "$1"
}

t0=$SECONDS
begin tools . "scripts/tools.sh all"
if ! ./scripts/tools.sh all; then
  end 1
  echo "test.sh: scripts/tools.sh failed; not running the tests" >&2
  exit 1
fi
# Tools installed into .tools/bin are found there by the tests; also expose
# them to anything that looks in PATH.
export PATH="$PWD/.tools/bin:$PATH"
# the reporter of the test steps
if ! (cd systest && go build -o "$report" ./testreport); then
  end 1
  echo "test.sh: cannot build systest/testreport; not running the tests" >&2
  exit 1
fi
end 0

begin gofmt . "gofmt -l (both modules)"
mapfile -t gofiles < <(find . \( -name .git -o -name .tools -o -name node_modules -o -name vendor -o -name testdata \) -prune -o -name '*.go' -type f -print | sort)
unformatted="$(gofmt -l "${gofiles[@]}" 2>&1)"
rc=$?
if [[ $rc != 0 || -n "$unformatted" ]]; then
  echo "gofmt: these files need formatting (run: gofmt -w FILE):"
  echo "$unformatted"
  check 1
else
  echo "gofmt: ${#gofiles[@]} files clean"
  check 0
fi

# The modules: the one users build, and its system tests.
modules=(. systest)

for mod in "${modules[@]}"; do
  begin "vet:$mod" "$mod" "go vet ./... (in $mod)"
  (cd "$mod" && go vet ./...)
  check $?
done

for mod in "${modules[@]}"; do
  begin "test:$mod" "$mod" --quiet "go test -race -count=1 -timeout $TEST_TIMEOUT ./... (in $mod)"
  gotest "test:$mod" "$mod" -race -count=1 -timeout "$TEST_TIMEOUT" ./...
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
    begin "fuzz:$label.$name" "$mod" --quiet "go test -fuzz $name for $FUZZTIME (in $mod, package $dir)"
    gotest "fuzz:$label.$name" "$mod" -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -timeout "$TEST_TIMEOUT" "$dir"
  done
else
  echo; echo "==> fuzz: disabled (FUZZTIME=$FUZZTIME)"
fi

echo
echo "test.sh: steps: $(printf '%s; ' "${summary[@]}")total $(took $((SECONDS - t0)))"
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}"
fi
# the tests of each module, and the closing line "N passed, N failed, N skipped"
"$report" -summary "$counts"
rc=$?
if ((${#failed[@]})) || [[ $rc != 0 ]]; then
  exit 1
fi

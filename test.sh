#!/usr/bin/env bash
# The one command that runs every check of caddy-presign on a fresh machine,
# in both modules: the module itself (.) and its system tests (systest/):
#   1. scripts/tools.sh      installs missing tools: versitygw, xcaddy, local-kms,
#                            gotestsum, golangci-lint, the npm packages; and, in
#                            the background until the system tests need them,
#                            Debian's chromium, wrk, python3-botocore,
#                            python3-boto3, curl, jq (apt-get: root or sudo)
#   2. gofmt                 fails listing unformatted files (both modules)
#   3. go vet -race ./...    in . and in systest/
#   4. golangci-lint run     in . and in systest/ (.golangci.yml)
#   5. go test -race -count=1 ./...   in . (unit tests, seconds) and in
#                            systest/ (versitygw, Caddy processes, Chromium: minutes)
#   6. every Fuzz* target of both modules, each for $FUZZTIME (default 30s;
#      FUZZTIME=0 skips)
# Built ahead, in the background at the lowest priority from step 2 on: the
# packages of the Caddy binary of the process tests (without -race), and the
# fuzz test binaries, once per package, on those same packages: only this
# module's packages carry the fuzzing instrumentation.
# Each step prints a line when it starts and when it ends, with its time, and
# a line a minute while it runs.
# The tests run under gotestsum: a line per package as it ends, then the
# skipped tests with their reasons, each failed test's whole output and
# gotestsum's "DONE N tests, N skipped, N failures" line; then, from its
# --jsonfile, each package's tests passed, failed and skipped (a fuzz step
# also shows its last progress line: its execs). At the end: the time of
# each step, the tests run, passed, failed and skipped of each module, and a
# closing line "N passed, N failed, N skipped", where failed also counts each
# check that failed outside a test (gofmt, vet, lint, a package that did not
# build, a skip in CI). Every step runs even if an earlier one failed (except
# tools.sh); the exit code is non-zero if any step failed. In CI (CI=true) no
# test may skip: a skipped test fails its step, named.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
FUZZTIME="${FUZZTIME:-30s}"
TEST_TIMEOUT="${TEST_TIMEOUT:-20m}"

work="$(mktemp -d -t test.sh.XXXXXX)"
counts="$work/counts" # one line per step: module step run passed failed skipped
heartbeat_pid=""
ahead_pid=""
cleanup() { # (an apt-get under way is left to finish)
  local pid
  for pid in "$heartbeat_pid" "$ahead_pid"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

took() { # seconds -> 1m05s
  if (($1 >= 60)); then printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); else printf '%ds' "$1"; fi
}

# begin NAME MODULE DESCRIPTION...: a step starts.
failed=()
summary=()
begin() {
  step_name=$1 step_module=$2 step_start=$SECONDS
  shift 2
  echo
  echo "==> $(date -u +%H:%M:%S) $step_name: $*"
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
# sum DIR JSON ARGS...: gotestsum ARGS in DIR, go test's events into JSON.
sum() {
  local dir=$1 json=$2
  shift 2
  (cd "$dir" && gotestsum --format pkgname --format-icons text --format-hide-empty-pkg --jsonfile "$json" "$@") 2>&1
}
# gotest NAME MODULE DIR ARGS...: gotestsum ARGS in DIR (ARGS: its own
# flags, then -- and go test's); the step ends with its result, counted from
# gotestsum's --jsonfile by tally.
gotest() {
  local name=$1 mod=$2 dir=$3
  shift 3
  local json="$work/${name//[^A-Za-z0-9._-]/_}.json"
  sum "$dir" "$json" "$@"
  tally "$name" "$mod" "$json" $?
}
# gofuzz NAME MODULE DIR ARGS...: gotest for a fuzz target, fuzzed once
# more when Go's fuzzing coordinator reported its own -fuzztime deadline as
# the target's failure: "context deadline exceeded" with no failing input
# written, a race in Go 1.26 (golang/go#75804, fixed in Go 1.27). Any other
# failure, or the same twice, fails the step.
gofuzz() {
  local name=$1 mod=$2 dir=$3
  shift 3
  local json="$work/${name//[^A-Za-z0-9._-]/_}.json" rc
  sum "$dir" "$json" "$@"
  rc=$?
  if ((rc != 0)) && grep -q 'context deadline exceeded' "$json" && ! grep -q 'Failing input written to' "$json"; then
    echo "test.sh: $name: Go's fuzzing coordinator reported its own -fuzztime deadline as a failure, with no failing input (golang/go#75804, fixed in Go 1.27): fuzzing once more"
    sum "$dir" "$json" "$@"
    rc=$?
  fi
  tally "$name" "$mod" "$json" $rc
}
# tally NAME MODULE JSONFILE RC: from go test -json's events, a line per
# package with its tests passed, failed and skipped (subtests included), a
# fuzz target's last progress line, and the step's counts into $counts; a
# package that failed with no failed test (a build error, a panic, a
# timeout) counts as one failed, and so does a command that failed with no
# failed package. In CI, a skipped test fails the step.
tally() {
  local name=$1 mod=$2 json=$3 rc=$4 out last run passed fail skipped skips
  out="$(awk '
    # the value of field f, for the fields that hold no escaped character
    function field(f) {
      if (!match($0, "\"" f "\":(\"[^\"]*\"|[0-9.e+-]+)")) return ""
      v = substr($0, RSTART + length(f) + 3, RLENGTH - length(f) - 3)
      gsub(/"/, "", v)
      return v
    }
    /"Action":"(pass|fail|skip)"/ {
      act = field("Action"); pkg = field("Package")
      if (!(pkg in seen)) { seen[pkg] = 1; order[++n] = pkg }
      if (match($0, /"Test":"([^"\\]|\\.)*"/)) {
        c[pkg, act]++
        if (act == "skip") skips = skips " " substr($0, RSTART + 8, RLENGTH - 9) " (" pkg ")"
      } else if (act != "skip") { # a package skips when it has no test files
        result[pkg] = act; elapsed[pkg] = field("Elapsed")
      }
    }
    /"Action":"output".*fuzz: elapsed: .*execs: / {
      if (match($0, /fuzz: elapsed: [^"\\]*/)) fuzz = substr($0, RSTART, RLENGTH)
    }
    END {
      for (i = 1; i <= n; i++) {
        p = order[i]
        if (!(p in result)) continue
        P += c[p, "pass"]; F += c[p, "fail"]; S += c[p, "skip"]
        if (result[p] == "fail" && !c[p, "fail"]) bad++
        printf "%-4s %s %.1fs (%d passed, %d failed, %d skipped)\n", result[p] == "pass" ? "ok" : "FAIL", p, elapsed[p], c[p, "pass"], c[p, "fail"], c[p, "skip"]
      }
      if (fuzz != "") print "last fuzz progress: " fuzz
      printf "%d %d %d %d%s\n", P + F + S, P, F + bad, S, skips
    }' "$json" 2>/dev/null)"
  last="${out##*$'\n'}"
  if [[ "$out" == *$'\n'* ]]; then echo "${out%$'\n'*}"; fi
  read -r run passed fail skipped skips <<<"$last"
  run=${run:-0} passed=${passed:-0} fail=${fail:-0} skipped=${skipped:-0}
  if [[ "$rc" != 0 && "$fail" == 0 ]]; then fail=1; fi # the command failed, no test did
  if [[ "${CI:-}" == true && "$skipped" != 0 ]]; then
    echo "test.sh: CI=true, where no test may skip; skipped: $skips"
    fail=$((fail + 1)) rc=1
  fi
  echo "$name: $run tests run (subtests included): $passed passed, $fail failed, $skipped skipped"
  echo "$mod $name $run $passed $fail $skipped" >>"$counts"
  end "$rc"
}
# closing: the tests of each module, in the order they first ran, and the
# closing line "N passed, N failed, N skipped"; false when any failed.
closing() {
  awk '
    !($1 in run) { order[++n] = $1 }
    { run[$1] += $3; p[$1] += $4; f[$1] += $5; s[$1] += $6; steps[$1] = steps[$1] (steps[$1] == "" ? "" : ", ") $2 }
    END {
      for (i = 1; i <= n; i++) {
        m = order[i]
        printf "module %s: %d tests run, %d passed, %d failed, %d skipped (%s)\n", m, run[m], p[m], f[m], s[m], steps[m]
        P += p[m]; F += f[m]; S += s[m]
      }
      printf "%d passed, %d failed, %d skipped\n", P, F, S
      exit (F > 0)
    }' "$counts"
}
# check RC: the end of a step that is not a test; its failure is counted.
check() {
  if [[ "$1" != 0 ]]; then echo "$step_module $step_name 0 0 1 0" >>"$counts"; fi
  end "$1"
}

t0=$SECONDS
begin tools . "scripts/tools.sh go, npm (and apt in the background, until the system tests)"
# The Debian packages are for the system tests only: apt-get downloads and
# unpacks them while the Go tools, vet and the unit tests build.
./scripts/tools.sh apt >"$work/apt.log" 2>&1 &
apt_pid=$!
if ! ./scripts/tools.sh go || ! ./scripts/tools.sh npm; then
  end 1
  echo "test.sh: scripts/tools.sh failed; not running the tests" >&2
  exit 1
fi
# Tools installed into .tools/bin are found there by the tests; also expose
# them to anything that looks in PATH.
export PATH="$PWD/.tools/bin:$PATH"
end 0

# Fuzz targets: every `func FuzzXxx(f *testing.F)` in a _test.go file, as
# "module package-dir name label".
fuzz=()
if [[ "$FUZZTIME" != 0 && "$FUZZTIME" != 0s ]]; then
  while read -r dir name; do
    label="${dir#./}"
    [[ "$label" == . ]] && label=root
    label="${label//\//-}" # a file name: signers/s3 is signers-s3
    # each in its own module: systest/... from systest, the rest from here
    mod=.
    case "$dir" in ./systest | ./systest/*) mod=systest dir=".${dir#./systest}" ;; esac
    fuzz+=("$mod $dir $name $label")
  done < <(
    grep -rEo --include='*_test.go' --exclude-dir=.git --exclude-dir=.tools --exclude-dir=node_modules --exclude-dir=vendor --exclude-dir=testdata \
      '^func Fuzz[A-Za-z0-9_]*\([A-Za-z0-9_]+ \*testing\.F\)' . |
      sed -E 's#^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#' | sort -u
  )
fi

# Built ahead, in the background at the lowest priority from now on, on the
# CPU that the other steps leave idle (links, apt-get, the system tests'
# waits), each once:
#   - the packages of the Caddy binary that the process tests run (without
#     -race: vet and the tests build with it), waited for before the system
#     tests, whose harness then only links it;
#   - the fuzz test binaries, one per package, waited for before the
#     fuzzing. `go test -fuzz` would compile every dependency again with the
#     coverage instrumentation (a third full build, minutes on 2 cores);
#     instead the instrumentation that -fuzz adds (-d=libfuzzer) goes on this
#     module's packages only, and the dependencies are those of the Caddy
#     binary above. The coverage that guides the fuzzer is then that of our
#     code: FuzzPresignV4 ran 395,000 inputs in 20 s this way and found 53 new
#     interesting ones, against 26,000 and 36 with every package instrumented.
mkdir -p "$work/ahead"
(
  gopid=""
  trap 'kill $gopid 2>/dev/null; exit 1' TERM
  ahead() { # LOG DIR ARGS...: nice go ARGS in DIR, its errors in LOG
    local log=$1 dir=$2
    shift 2
    (cd "$dir" && exec nice -n 19 go "$@") >/dev/null 2>>"$log" &
    gopid=$!
    wait "$gopid"
  }
  ahead "$work/ahead/caddy.log" . list -export -deps ./cmd/caddy # compiles, does not link
  echo $? >"$work/ahead/caddy.rc.new" && mv "$work/ahead/caddy.rc.new" "$work/ahead/caddy.rc"
  rc=0
  instrument="$(go list -m)/...=-d=libfuzzer"
  for entry in "${fuzz[@]}"; do
    read -r mod dir _ label <<<"$entry"
    bin="$work/ahead/$mod-$label.test"
    [[ -e "$bin" ]] || ahead "$work/ahead/fuzz.log" "$mod" test -c -gcflags="$instrument" -o "$bin" "$dir" || rc=1
  done
  exit $rc
) &
ahead_pid=$!

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
  # with -race, the tests' build: the packages compile once for both (no
  # file of ours has a race build constraint: vet reads the same files)
  begin "vet:$mod" "$mod" "go vet -race ./... (in $mod)"
  (cd "$mod" && go vet -race ./...)
  check $?
done

for mod in "${modules[@]}"; do
  # the linters of .golangci.yml (found from systest/ too); alone:
  # .tools/bin/golangci-lint run ./... (in . or systest)
  begin "lint:$mod" "$mod" "golangci-lint run ./... (in $mod)"
  (cd "$mod" && golangci-lint run ./...)
  check $?
done

for mod in "${modules[@]}"; do
  if [[ "$mod" == systest ]]; then # what the background brings the system tests
    begin tools:apt . "waiting for scripts/tools.sh apt (the Debian packages of the system tests)"
    wait "$apt_pid"
    rc=$?
    cat "$work/apt.log"
    check $rc
    if [[ $rc != 0 ]]; then
      echo "test.sh: scripts/tools.sh apt failed; not running the system tests" >&2
      closing
      exit 1
    fi
    begin caddy:build . "waiting for the packages of the system tests' Caddy binary, building in the background since the tools step"
    while [[ ! -e "$work/ahead/caddy.rc" ]] && kill -0 "$ahead_pid" 2>/dev/null; do sleep 1; done
    cat "$work/ahead/caddy.log" 2>/dev/null
    check "$(cat "$work/ahead/caddy.rc" 2>/dev/null || echo 1)"
  fi
  begin "test:$mod" "$mod" "go test -race -count=1 -timeout $TEST_TIMEOUT ./... (in $mod, through gotestsum)"
  gotest "test:$mod" "$mod" "$mod" -- -race -count=1 -timeout "$TEST_TIMEOUT" ./...
done

if ((${#fuzz[@]})); then
  begin fuzz:build . "waiting for the fuzz test binaries, building in the background since the tools step"
  wait "$ahead_pid"
  rc=$?
  ahead_pid=""
  cat "$work/ahead/fuzz.log" 2>/dev/null
  check $rc
  for entry in "${fuzz[@]}"; do
    read -r mod dir name label <<<"$entry"
    bin="$work/ahead/$mod-$label.test"
    begin "fuzz:$label.$name" "$mod" "fuzz $name for $FUZZTIME (in $mod, package $dir)"
    # what go test -fuzz runs, from the package's folder (its testdata/fuzz
    # corpus, where a failing input is written), with go test's fuzz cache
    pkg="$(cd "$mod" && go list "$dir")"
    gofuzz "fuzz:$label.$name" "$mod" "$mod/$dir" --raw-command -- go tool test2json -t -p "$pkg" "$bin" -test.v=test2json \
      -test.paniconexit0 -test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$FUZZTIME" \
      -test.timeout="$TEST_TIMEOUT" -test.fuzzcachedir="$(go env GOCACHE)/fuzz/$pkg"
  done
else
  echo; echo "==> fuzz: none (FUZZTIME=$FUZZTIME, ${#fuzz[@]} targets)"
fi

echo
echo "test.sh: steps: $(printf '%s; ' "${summary[@]}")total $(took $((SECONDS - t0)))"
if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}"
fi
closing
rc=$?
if ((${#failed[@]})) || [[ $rc != 0 ]]; then
  exit 1
fi

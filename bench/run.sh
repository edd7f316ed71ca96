#!/usr/bin/env bash
# The load benchmark of caddy-presign, in one command (about 15 minutes):
#
#   ./bench/run.sh
#
# 1. builds Caddy with the module (go build ./cmd/caddy), and the load bench
#    and its test binary from the systest module (systest/loadbench), into a
#    temporary directory;
# 2. runs the ServeHTTP Go benchmarks (go test -bench ServeHTTP .);
# 3. runs loadbench: Caddy with bench/Caddyfile on 127.0.0.1, wrk with
#    bench/paths.lua, Caddy's CPU time per request on the presign routes
#    against its static redir (local-serve: a signed 1 KiB file through the
#    local guard against file_server serving it unsigned), several rounds in
#    alternating order, then the
#    memory check on a fresh Caddy; for CloudFront without stable, the raw
#    RSA-2048 signing rate (BenchmarkRawRSA2048 in systest/loadbench) next to
#    each run; then the configuration cost of 10,000 rules (tenants-10000):
#    fresh Caddys with a site of 10,000 presign rules over 100 S3 profiles or
#    of 10,000 static redir routes, in alternating order: start, RSS, reload
#    through the admin API, RSS after 3 reloads, presign series on /metrics;
# and writes the results to bench/results/latest.md (and stdout).
# bench/results/ is git-ignored: results are a measurement of one machine,
# not part of the source (BENCHMARKS.md reports them).
#
# Nothing contacts S3, CloudFront, Azure, GCS or AWS KMS: signing is local;
# the check_exists route asks a versitygw on loopback that loadbench starts,
# and the scenarios cf-kms-stable-hot (a default one) and cf-kms-unique (run
# only when named) sign through a local-kms (an AWS KMS emulator) on
# loopback that loadbench starts only for them, behind a proxy that counts
# the kms:Sign calls (./scripts/tools.sh installs both). Overrides
# (environment):
#   BENCH_DURATION=6s  BENCH_ROUNDS=5  BENCH_CONNS=32  BENCH_THREADS=2
#   BENCH_MEM_DURATION=60s (0 skips the memory check)
#   BENCH_SCENARIOS=s3-unique,s3-hot,...,tenants-10000 (default: every scenario but static-aa,
#     the static redir against a copy of itself, which shows the method's noise, cf-kms-unique,
#     a kms:Sign round trip per request (informative), and the
#     listings browse-{s3,gcs,azure}-{json,html}, 1,000 entries against file_server browse,
#     whose stores start only when named (Azurite: ./scripts/tools.sh npm);
#     the list is in systest/loadbench/main.go)
#   BENCH_MAX_LOAD=1.5 BENCH_WAIT_LOAD=0s  (wait up to WAIT_LOAD for a load average under MAX_LOAD)
#   BENCH_OUT=bench/results/latest.md
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${BENCH_DURATION:-6s}"
ROUNDS="${BENCH_ROUNDS:-5}"
CONNS="${BENCH_CONNS:-32}"
THREADS="${BENCH_THREADS:-2}"
MEM_DURATION="${BENCH_MEM_DURATION:-60s}"
SCENARIOS="${BENCH_SCENARIOS:-}"
MAX_LOAD="${BENCH_MAX_LOAD:-1.5}"
WAIT_LOAD="${BENCH_WAIT_LOAD:-0s}"
OUT="${BENCH_OUT:-bench/results/latest.md}"

command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
./scripts/tools.sh go >/dev/null # versitygw for the check_exists route, local-kms for cf-kms-*

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "==> building Caddy with presign, loadbench and its test binary (systest/loadbench)" >&2
go build -o "$tmp/caddy" ./cmd/caddy
(cd systest && go build -o "$tmp/loadbench" ./loadbench && go test -c -o "$tmp/loadbench.test" ./loadbench)

echo "==> ServeHTTP Go benchmarks" >&2
if go test -run '^$' -bench 'ServeHTTP' -benchtime 1s -count 1 . >"$tmp/gobench.txt" 2>&1; then
  cat "$tmp/gobench.txt" >&2
  gobench="$(grep -E '^(Benchmark|cpu:)' "$tmp/gobench.txt")"
else
  cat "$tmp/gobench.txt" >&2
  gobench="(go test -bench ServeHTTP . failed: see above)"
fi

echo "==> load benchmark (wrk, $ROUNDS rounds of $DURATION per route and scenario; memory: $MEM_DURATION)" >&2
"$tmp/loadbench" -caddy "$tmp/caddy" -repo . -out "$OUT.tmp" \
  -duration "$DURATION" -rounds "$ROUNDS" -conns "$CONNS" -threads "$THREADS" \
  -mem-duration "$MEM_DURATION" -scenarios "$SCENARIOS" -rsa-bench "$tmp/loadbench.test" \
  -max-load "$MAX_LOAD" -wait-load "$WAIT_LOAD"

{
  cat "$OUT.tmp"
  printf '\nServeHTTP (go test -run ^$ -bench ServeHTTP -benchtime 1s .):\n\n```\n%s\n```\n' "$gobench"
} >"$OUT"
rm -f "$OUT.tmp"
echo "==> results in $OUT" >&2

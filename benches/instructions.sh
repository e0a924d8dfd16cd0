#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: tollgate (limits, budget, pricing,
# ledger and access log on) beside the bare Pingora passthrough, on the same non-streaming
# request. Counts do not depend on what else the machine is doing, so this is how a change to
# the request path is judged when timings are too noisy to tell.
#
#   benches/instructions.sh [REQUESTS] [--annotate]     (default 2000)
#
# Prints instructions per request for each; --annotate also prints callgrind's top functions
# for tollgate; both profiles are kept beside the results file. Needs valgrind (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/wrk.sh
n=${1:-2000}
annotate=${2:-}
command -v valgrind >/dev/null || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get install -y -qq valgrind >/dev/null; }
cargo build --release --locked --workspace --bins --example bare-pingora
work=$(mktemp -d)
pids=()
trap 'stop_all' EXIT
start_mock
body='{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}'

# count NAME PORT COMMAND...: runs COMMAND under callgrind, and prints its instructions per
# request over $n requests sent one at a time after 200 for warming up.
count() {
  local name=$1 port=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.out" "$@" 2>"$work/$name.log" &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 300); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  local load=(target/release/tollgate-loadgen rate --url "http://127.0.0.1:$port/v1/chat/completions" --body "$body"
    --header 'Authorization: Bearer sk-bench' --conns 1)
  "${load[@]}" --rate 100 --duration 2 >/dev/null
  callgrind_control --zero "$pid" >/dev/null
  local j
  j=$("${load[@]}" --rate 200 --duration "$(python3 -c "print($n / 200)")")
  callgrind_control --dump "$pid" >/dev/null
  kill -INT "$pid" 2>/dev/null || true
  sleep 1
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local ok total
  ok=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ok"])' "$j")
  # The dump after zeroing is the file with the highest part number.
  local dump
  dump=$(ls -v "$work/$name.out"* | tail -n 1)
  total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  report "$(printf '%-9s %8d instructions per request (%d requests)' "$name" $((total / ok)) "$ok")"
  cp "$dump" "${results%.txt}-$name.callgrind"
  if [ "$name" = tollgate ] && [ "$annotate" = --annotate ]; then
    callgrind_annotate --threshold=80 "$dump" 2>/dev/null | sed -n "/file:function/,\$p" | head -n 60
  fi
}

mkdir -p "${BENCH_RESULTS:-target/bench-results}"
results="${BENCH_RESULTS:-target/bench-results}/instructions-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "# instructions $n, $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null)" >"$results"

p=$(free_port)
count pingora "$p" target/release/examples/bare-pingora "127.0.0.1:$p" "127.0.0.1:$mock_port" 1

p=$(free_port)
cat >"$work/tollgate.yaml" <<YAML
listen: 127.0.0.1:$p
admin_listen: 127.0.0.1:$(free_port)
server: { threads: 1, grace_period: 1s }
state: { usage_log: "$work/usage.jsonl" }
providers:
  - { name: mock, dialect: openai, base_url: "http://127.0.0.1:$mock_port/v1", models: [gpt-4o-mini] }
keys:
  - { key: sk-bench, name: bench, budget_usd: 1000000,
      limits: { rpm: 1000000000, concurrency: 1000000, tpm: 4000000000 } }
pricing: { gpt-4o-mini: { input: 0.15, output: 0.60 } }
YAML
RUST_LOG=info count tollgate "$p" target/release/tollgate serve -c "$work/tollgate.yaml"

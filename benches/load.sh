#!/usr/bin/env bash
# Load benchmark: wrk straight at the mock provider, then through tollgate, in the same run,
# non-streaming and streaming. Everything runs on loopback; each wrk run is bounded in time.
#
#   benches/load.sh [DURATION] [CONNECTIONS]      (defaults: 10s, 32)
#
# Each case runs with one connection (the latency tollgate adds to a request) and with
# CONNECTIONS connections (throughput under load). On a small machine wrk, the mock and tollgate
# share the cores, so compare the two rows of a case, not the numbers across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/wrk.sh
bench_setup load "${1:-}" "${2:-}"
start_mock
start_tollgate bench <<YAML
keys:
  - { key: sk-bench, name: bench }
YAML

for stream in false true; do
  post_lua "$work/post.lua" '{"model":"gpt-4o-mini","stream":'"$stream"',"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}'
  for c in 1 "$conns"; do
  for target in "mock http://127.0.0.1:$mock_port" "tollgate ${addr[bench]}"; do
    set -- $target
    report "$(printf 'stream=%-5s conns=%-3s %-8s %s' "$stream" "$c" "$1" \
      "$(wrk_line "$c" "$duration" "$work/post.lua" "$2/v1/chat/completions")")"
  done
  done
done

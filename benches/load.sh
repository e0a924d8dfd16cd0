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
duration=${1:-10s}
conns=${2:-32}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
scripts/deps
cargo build --release --locked --workspace --bins

work=$(mktemp -d)
mock_port=19000; gw_port=18080; admin_port=19090
target/release/tollgate-mock --listen 127.0.0.1:$mock_port 2>"$work/mock.log" &
mock=$!
cat >"$work/bench.yaml" <<YAML
listen: 127.0.0.1:$gw_port
admin_listen: 127.0.0.1:$admin_port
server: { threads: 2, grace_period: 1s }
providers:
  - { name: mock, dialect: openai, base_url: "http://127.0.0.1:$mock_port/v1", models: [gpt-4o-mini] }
keys:
  - { key: sk-bench, name: bench }
YAML
RUST_LOG=warn target/release/tollgate serve -c "$work/bench.yaml" 2>"$work/tollgate.log" &
gw=$!
trap 'kill $gw $mock 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

for stream in false true; do
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-4o-mini","stream":$stream,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}'
LUA
  for c in 1 "$conns"; do
  for target in "mock http://127.0.0.1:$mock_port" "tollgate http://127.0.0.1:$gw_port"; do
    set -- $target
    printf 'stream=%-5s conns=%-3s %-8s %s\n' "$stream" "$c" "$1" \
      "$(wrk_line "$c" "$duration" "$work/post.lua" "$2/v1/chat/completions")"
  done
  done
done

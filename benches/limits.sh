#!/usr/bin/env bash
# Throughput with limits off and on, in the same run: wrk through three tollgate processes in
# front of one mock provider, non-streaming, CONNECTIONS connections each:
#   off    the key has no limits (admission does nothing);
#   local  the key and its group have rpm, rpd, concurrency and tpm limits, kept in process;
#   redis  the same limits kept in a redis-server started here.
# The limits are far above what the run can reach, so every request is admitted: this measures
# what admitting costs, not what refusing does.
#
#   benches/limits.sh [DURATION] [CONNECTIONS]      (defaults: 10s, 32)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/wrk.sh
duration=${1:-10s}
conns=${2:-32}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
scripts/deps --test >/dev/null
cargo build --release --locked --workspace --bins

work=$(mktemp -d)
mock_port=19100; redis_port=19179
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
target/release/tollgate-mock --listen 127.0.0.1:$mock_port 2>"$work/mock.log" &
pids+=($!)
redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
pids+=($!)

limits='limits: { rpm: 1000000000, rpd: 1000000000, concurrency: 1000000, tpm: 4000000000 }'
start() { # name port admin-port state key-limits
  cat >"$work/$1.yaml" <<YAML
listen: 127.0.0.1:$2
admin_listen: 127.0.0.1:$3
server: { threads: 2, grace_period: 1s }
state: $4
providers:
  - { name: mock, dialect: openai, base_url: "http://127.0.0.1:$mock_port/v1", models: [gpt-4o-mini] }
keys:
  - { key: sk-bench, name: bench, group: team, $5 }
groups:
  team: { $5 }
YAML
  RUST_LOG=warn target/release/tollgate serve -c "$work/$1.yaml" 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$3/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "tollgate ($1) did not start" >&2; cat "$work/$1.log" >&2; exit 1
}
start off 18180 19190 '{ backend: local }' 'limits: {}'
start local 18181 19191 '{ backend: local }' "$limits"
start redis 18182 19192 "{ backend: redis, redis_url: \"redis://127.0.0.1:$redis_port/0\" }" "$limits"

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}'
LUA
for c in 1 "$conns"; do
  for target in "off 18180" "local 18181" "redis 18182"; do
    set -- $target
    printf 'conns=%-3s limits=%-6s %s\n' "$c" "$1" \
      "$(wrk_line "$c" "$duration" "$work/post.lua" "http://127.0.0.1:$2/v1/chat/completions")"
  done
done

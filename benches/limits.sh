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
bench_setup limits "${1:-}" "${2:-}" --test
start_mock
start_redis

limits='limits: { rpm: 1000000000, rpd: 1000000000, concurrency: 1000000, tpm: 4000000000 }'
start() { # name state key-limits
  start_tollgate "$1" <<YAML
state: $2
keys:
  - { key: sk-bench, name: bench, group: team, $3 }
groups:
  team: { $3 }
YAML
}
start off '{ backend: local }' 'limits: {}'
start local '{ backend: local }' "$limits"
start redis "{ backend: redis, redis_url: \"redis://127.0.0.1:$redis_port/0\" }" "$limits"

post_lua "$work/post.lua" '{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}'
for c in 1 "$conns"; do
  for name in off local redis; do
    report "$(printf 'conns=%-3s limits=%-6s %s' "$c" "$name" \
      "$(wrk_line "$c" "$duration" "$work/post.lua" "${addr[$name]}/v1/chat/completions")")"
  done
done

#!/usr/bin/env bash
# What metering costs on the request path, metering off and on in the same run: wrk through
# tollgate processes in front of one mock provider, non-streaming and streaming, CONNECTIONS
# connections each:
#   off     no prices, no ledger, no budget: usage is read (it always is) and logged, no more;
#   on      the model has a price, every request is a ledger line (fsynced every second), and
#           the key has a budget: each request reserves its worst case and is charged at the end;
#   redis   the same, the balance kept in a redis-server started here (and every ledger line
#           also added to its stream).
# The budget is far above what the run can spend, so every request is admitted.
#
#   benches/metering.sh [DURATION] [CONNECTIONS]      (defaults: 10s, 32)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/wrk.sh
bench_setup metering "${1:-}" "${2:-}" --test
start_mock
start_redis

start() { # name state key-extra pricing
  start_tollgate "$1" <<YAML
state: $2
keys:
  - { key: sk-bench, name: bench $3 }
$4
YAML
}
pricing='pricing: { gpt-4o-mini: { input: 0.15, cached_input: 0.075, output: 0.60 } }'
start off '{ backend: local }' '' ''
start on "{ backend: local, usage_log: \"$work/usage.jsonl\" }" ', budget_usd: 1000000' "$pricing"
start redis "{ backend: redis, redis_url: \"redis://127.0.0.1:$redis_port/0\", usage_log: \"$work/usage-redis.jsonl\" }" ', budget_usd: 1000000' "$pricing"

body='{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Write one short sentence about gateways."}]'
for kind in whole stream; do
  extra=''
  [ $kind = stream ] && extra=',"stream":true'
  post_lua "$work/$kind.lua" "$body$extra}"
done
for kind in whole stream; do
  for c in 1 "$conns"; do
    for name in off on redis; do
      report "$(printf '%-6s conns=%-3s metering=%-6s %s' "$kind" "$c" "$name" \
        "$(wrk_line "$c" "$duration" "$work/$kind.lua" "${addr[$name]}/v1/chat/completions")")"
    done
  done
done
report "ledger lines written: $(wc -l <"$work/usage.jsonl") (on), $(wc -l <"$work/usage-redis.jsonl") (redis)"

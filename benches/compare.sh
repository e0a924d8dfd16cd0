#!/usr/bin/env bash
# tollgate beside the proxies it is measured against, in one run: wrk straight at the mock
# provider, then through nginx (a plain reverse proxy with upstream keep-alive), a bare Pingora
# passthrough (benches/bare_pingora.rs: the floor for anything built on Pingora), and tollgate
# (auth, limits and metering on, access log on). Each proxy runs alone, pinned to the last core
# with one worker; wrk and the mock share the other cores. Non-streaming and streaming, at each
# concurrency given.
#
#   benches/compare.sh [DURATION] [CONCURRENCY...]     (defaults: 10s, 1 32)
#
# Installs nginx when it is missing. Results also go to $BENCH_RESULTS (target/bench-results).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/wrk.sh
if ! command -v nginx >/dev/null && ! [ -x /usr/sbin/nginx ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx-light >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
bench_setup compare "${1:-}" 32
shift || true
levels=(1 32)
[ $# -gt 0 ] && levels=("$@")
cargo build --release --locked --example bare-pingora

cores=$(nproc)
proxy_core=$((cores - 1))
load_cores="0-$((proxy_core > 0 ? proxy_core - 1 : 0))"
# (taskset execs what it runs, so $! is that process: a shell function here would not be.)

mock_port=$(free_port)
taskset -c "$load_cores" target/release/tollgate-mock --listen "127.0.0.1:$mock_port" 2>"$work/mock.log" &
pids+=($!)

# nginx: one worker, upstream keep-alive, no buffering (streams pass as they come).
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  upstream mock { server 127.0.0.1:$mock_port; keepalive 256; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
taskset -c "$proxy_core" "$nginx_bin" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx/stderr" &
pids+=($!)

pingora_port=$(free_port)
taskset -c "$proxy_core" target/release/examples/bare-pingora "127.0.0.1:$pingora_port" "127.0.0.1:$mock_port" 1 \
  2>"$work/pingora.log" &
pids+=($!)

# tollgate as it is run: its key has limits and a budget, the model a price, every request a
# ledger line and an access log line.
tg_port=$(free_port)
tg_admin=$(free_port)
cat >"$work/tollgate.yaml" <<YAML
listen: 127.0.0.1:$tg_port
admin_listen: 127.0.0.1:$tg_admin
server: { threads: 1, grace_period: 1s }
state: { usage_log: "$work/usage.jsonl" }
providers:
  - { name: mock, dialect: openai, base_url: "http://127.0.0.1:$mock_port/v1", models: [gpt-4o-mini] }
keys:
  - { key: sk-bench, name: bench, budget_usd: 1000000,
      limits: { rpm: 1000000000, concurrency: 1000000, tpm: 4000000000 } }
pricing: { gpt-4o-mini: { input: 0.15, output: 0.60 } }
YAML
RUST_LOG=info taskset -c "$proxy_core" target/release/tollgate serve -c "$work/tollgate.yaml" 2>"$work/tollgate.log" &
pids+=($!)

for port in "$mock_port" "$nginx_port" "$pingora_port" "$tg_port"; do
  up=0
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { up=1; break; }; sleep 0.1; done
  [ $up = 1 ] || { echo "nothing listens on $port; logs in $work" >&2; cat "$work"/*.log >&2; exit 1; }
done

report "# proxies pinned to core $proxy_core, wrk and the mock to cores $load_cores"
for stream in false true; do
  post_lua "$work/post.lua" '{"model":"gpt-4o-mini","stream":'"$stream"',"messages":[{"role":"user","content":"Write one short sentence about gateways."}]}'
  for c in "${levels[@]}"; do
    for target in "direct $mock_port" "nginx $nginx_port" "pingora $pingora_port" "tollgate $tg_port"; do
      set -- $target
      line=$(taskset -c "$load_cores" bash -c ". benches/wrk.sh; wrk_line $c $duration $work/post.lua http://127.0.0.1:$2/v1/chat/completions")
      report "$(printf 'stream=%-5s conns=%-4s %-9s %s' "$stream" "$c" "$1" "$line")"
    done
  done
done

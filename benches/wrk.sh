# Sourced by the load scripts: their setup, tollgate processes, and one bounded wrk run summed
# up on one line.

# bench_setup DURATION CONNECTIONS [DEPS-ARGS]: sets $duration and $conns (defaults 10s and 32),
# checks for wrk, builds the release binaries, and makes $work, a directory removed at exit
# together with every process listed in $pids.
bench_setup() {
  duration=${1:-10s}
  conns=${2:-32}
  command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
  scripts/deps ${3:-} >/dev/null
  cargo build --release --locked --workspace --bins
  work=$(mktemp -d)
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
}

# start_mock PORT: the mock provider.  start_redis PORT: a redis-server without persistence.
start_mock() {
  target/release/tollgate-mock --listen "127.0.0.1:$1" 2>"$work/mock.log" &
  pids+=($!)
}
start_redis() {
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids+=($!)
}

# start_tollgate NAME PORT ADMIN-PORT MOCK-PORT < CONFIG: tollgate on PORT in front of the mock
# (as the provider of gpt-4o-mini), the rest of its config on stdin, once it is ready.
start_tollgate() {
  {
    printf 'listen: 127.0.0.1:%s\nadmin_listen: 127.0.0.1:%s\n' "$2" "$3"
    printf 'server: { threads: 2, grace_period: 1s }\nproviders:\n'
    printf '  - { name: mock, dialect: openai, base_url: "http://127.0.0.1:%s/v1", models: [gpt-4o-mini] }\n' "$4"
    cat
  } >"$work/$1.yaml"
  RUST_LOG=warn target/release/tollgate serve -c "$work/$1.yaml" 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$3/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "tollgate ($1) did not start" >&2; cat "$work/$1.log" >&2; exit 1
}

# post_lua FILE BODY: a wrk script that POSTs BODY with the bench key.
post_lua() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '$2'
LUA
}

# One bounded wrk run, summed up on one line:
#
#   wrk_line CONNECTIONS DURATION LUA URL  →  "   12345.67 req/s   p50   1.23ms   p99   4.56ms   [errors]"
wrk_line() {
  local threads=$(( $1 < 2 ? 1 : 2 ))
  local out
  out=$(wrk -t"$threads" -c"$1" -d"$2" --latency -s "$3" "$4")
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)
  printf '%10s req/s   p50 %8s   p99 %8s   %s' "$rps" "$p50" "$p99" "$errors"
}

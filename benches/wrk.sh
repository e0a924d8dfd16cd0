# Sourced by the load scripts: their setup, tollgate processes, and one bounded wrk run summed
# up on one line.

# bench_setup NAME DURATION CONNECTIONS [DEPS-ARGS]: sets $duration and $conns (defaults 10s
# and 32), checks for wrk, builds the release binaries, makes $work, a directory removed at exit
# together with every process listed in $pids, and $results, the file `report` appends to:
# $BENCH_RESULTS (default target/bench-results)/NAME-<UTC time>.txt.
bench_setup() {
  duration=${2:-10s}
  conns=${3:-32}
  command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
  scripts/deps ${4:-} >/dev/null
  cargo build --release --locked --workspace --bins
  work=$(mktemp -d)
  pids=()
  trap 'stop_all' EXIT
  mkdir -p "${BENCH_RESULTS:-target/bench-results}"
  results="${BENCH_RESULTS:-target/bench-results}/$1-$(date -u +%Y%m%dT%H%M%SZ).txt"
  echo "# $1 $duration $conns, $(date -u +%FT%TZ), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null)" >"$results"
}

# stop_all: ends every process in $pids (those that ignore a polite stop within 3 s are
# killed) and removes $work.
stop_all() {
  kill "${pids[@]}" 2>/dev/null || true
  local p alive
  for _ in $(seq 30); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}

# report LINE: prints a result line and appends it to $results.
report() {
  echo "$1" | tee -a "$results"
}

# free_port: a TCP port nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_mock: the mock provider, on $mock_port.  start_redis: a redis-server without
# persistence, on $redis_port.
start_mock() {
  mock_port=$(free_port)
  target/release/tollgate-mock --listen "127.0.0.1:$mock_port" 2>"$work/mock.log" &
  pids+=($!)
}
start_redis() {
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    >"$work/redis.log" 2>&1 &
  pids+=($!)
  # Not up, the "redis" rows would quietly measure in-process limits (fail_open).
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1
}

# start_tollgate NAME < CONFIG: tollgate in front of the mock (as the provider of gpt-4o-mini),
# the rest of its config on stdin, once it is ready; its address is ${addr[NAME]}.
declare -A addr
start_tollgate() {
  local port admin
  port=$(free_port)
  admin=$(free_port)
  {
    printf 'listen: 127.0.0.1:%s\nadmin_listen: 127.0.0.1:%s\n' "$port" "$admin"
    printf 'server: { threads: 2, grace_period: 1s }\nproviders:\n'
    printf '  - { name: mock, dialect: openai, base_url: "http://127.0.0.1:%s/v1", models: [gpt-4o-mini] }\n' "$mock_port"
    cat
  } >"$work/$1.yaml"
  RUST_LOG=warn target/release/tollgate serve -c "$work/$1.yaml" 2>"$work/$1.log" &
  pids+=($!)
  addr[$1]="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
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

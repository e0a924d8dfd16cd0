# Sourced by the load scripts: one bounded wrk run, summed up on one line.
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

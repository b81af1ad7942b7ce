#!/usr/bin/env bash
# The larger load test: one biternet-serve process, SESSIONS concurrent downloads of 3 loopback
# links each, driven by netty-client's LoadTest (the real client code, in one JVM). Every
# download must verify. Prints the wall time, the server's peak heap use (sampled every 0.5 s
# with jstat) and its peak RSS (VmHWM). Needs the built server jar (./mvnw -DskipTests package).
#
# --cluster-nodes N (or CLUSTER_NODES=N): N biternet-serve nodes sharing sessions through one
# redis-server of the script's own (loopback, a free port, no persistence), node k listening on
# 127.0.0.(11+k), all on one port; the client resolves the server's name to those addresses, so
# each download's three links land on three nodes. Prints each node's peak heap and RSS and the
# store's peak used_memory.
#
# LOG_LEVEL (default WARN): the nodes' log level; KEEP_LOGS=DIR keeps their logs there.
# LOOPS (default 32): the event loops all the driver's downloads share (each download making its own
# group would be thousands of threads on the driver's side, competing with the servers for the cores).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sessions="${SESSIONS:-1000}"
nodes="${CLUSTER_NODES:-0}"
while [ $# -gt 0 ]; do
  case "$1" in
    --cluster-nodes) nodes="$2"; shift 2 ;;
    *) echo "load-test.sh: unknown argument $1 (use --cluster-nodes N)" >&2; exit 2 ;;
  esac
done
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "${KEEP_LOGS:-}" ] || { mkdir -p "$KEEP_LOGS"; cp "$work"/*.out "$work"/*.err "$work"/*.log "$KEEP_LOGS"/ 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
cluster_args=()
addresses=""
if [ "$nodes" -gt 0 ]; then
  redis_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
    > "$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  cluster_args=(--cluster "redis://127.0.0.1:$redis_port" --hash-cache none)
  # Redis's memory in use (bytes), every 0.5 s.
  (while sleep 0.5; do redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory:/ { print $2 + 0; fflush() }'; done) \
    > "$work/redis.bytes" &
  pids+=($!)
fi
count=$((nodes > 0 ? nodes : 1))
port=0
server_pids=()
metrics_urls=()
for k in $(seq 0 $((count - 1))); do
  host=127.0.0.1
  [ "$nodes" -gt 0 ] && host="127.0.0.$((11 + k))"
  java ${SERVER_JAVA_OPTS:-} -jar "$here/netty-server/target/biternet-serve.jar" --root "$work/root" --host "$host" --port "$port" \
    --max-sessions-per-address $((sessions * 2)) --max-channels-per-address $((sessions * 4)) --hello-timeout 30 \
    --metrics-port 0 --log-level "${LOG_LEVEL:-WARN}" "${cluster_args[@]}" > "$work/serve$k.out" 2> "$work/serve$k.err" &
  server_pids+=($!)
  pids+=($!)
  for _ in $(seq 300); do grep -q ' port ' "$work/serve$k.out" 2>/dev/null && break; sleep 0.1; done
  port="$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/serve$k.out" | head -1)"
  [ -n "$port" ] || { echo "load-test.sh: node $k did not start: $(tail -3 "$work/serve$k.err")" >&2; exit 1; }
  for _ in $(seq 100); do grep -q 'metrics on' "$work/serve$k.out" 2>/dev/null && break; sleep 0.1; done
  metrics_urls+=("$(sed -n 's/.*metrics on \(http[^ ]*\).*/\1/p' "$work/serve$k.out" | head -1)")
  # Heap in use = survivor + eden + old (KiB), every 0.5 s.
  jstat -gc "${server_pids[$k]}" 500 | awk 'NR > 1 { print $3 + $4 + $6 + $8; fflush() }' > "$work/heap$k.kib" &
  pids+=($!)
  addresses="${addresses:+$addresses,}$host"
done
echo "${server_pids[0]}" > "${PID_FILE:-/dev/null}"
# Open sessions and channels over all nodes, every 0.5 s, from their Prometheus endpoints.
(while sleep 0.5; do for m in "${metrics_urls[@]}"; do curl -s "$m"; done \
  | awk '/^biternet_sessions_open / { s += $2 } /^biternet_channels_open / { c += $2 } END { print s, c; fflush() }'; done) > "$work/open.txt" &
pids+=($!)
server_host=127.0.0.1
load_addresses=()
if [ "$nodes" -gt 0 ]; then
  server_host=nodes.load.test
  load_addresses=(-Dbiternet.load.addresses="$addresses")
fi
# A report left by an earlier run must not be read as this one's.
rm -f "$here"/netty-client/target/surefire-reports/*LoadTest*
start=$(date +%s.%N)
status=0
(cd "$here" && ./mvnw -B -q -pl netty-client -am verify -Dtest=LoadTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbiternet.load.sessions="$sessions" -Dbiternet.load.server="$server_host:$port" -Dbiternet.load.root="$work/root" \
  "${load_addresses[@]}" \
  -Dbiternet.load.loops="${LOOPS:-32}" -Dbiternet.load.rampSeconds="${RAMP_SECONDS:-0}" -Dbiternet.load.rate="${RATE:-}" \
  -Dbiternet.load.largeBytes="${LARGE_BYTES:-16777216}") || status=$?
end=$(date +%s.%N)
grep -h '^load:' "$here/netty-client/target/surefire-reports/dev.biternet.client.LoadTest-output.txt" || true
for k in $(seq 0 $((count - 1))); do
  pid="${server_pids[$k]}"
  peak_heap_kib="$(sort -g "$work/heap$k.kib" | tail -1)"
  rss_kib="$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")"
  threads="$(awk '/Threads/ { print $2 }' "/proc/$pid/status")"
  name=server
  [ "$nodes" -gt 0 ] && name="node $k (127.0.0.$((11 + k)))"
  awk -v n="$name" -v s="$sessions" -v w="$(echo "$end - $start" | bc)" -v h="$peak_heap_kib" -v r="$rss_kib" -v t="$threads" 'BEGIN {
    printf "%s: %d sessions x 3 links: peak heap used %.0f MiB, peak RSS %.0f MiB, %d threads; wall (with the maven build) %.1f s\n",
      n, s, h / 1024, r / 1024, t, w }'
  # What was sent, how pieces were claimed (copy: an endgame duplicate), how sessions ended, the
  # Error frames sent, and the store's commands (count, mean, max): where extra bytes and waits come from.
  curl -s "${metrics_urls[$k]}" | awk -v n="$name" '
    /^biternet_sent_bytes_total / { printf "%s: sent %.1f MB of pieces\n", n, $2 / 1e6 }
    /^biternet_pieces_claimed_total\{/ { sub(/.*kind="/, "", $1); sub(/".*/, "", $1); claims = claims " " $1 "=" $2 + 0 }
    /^biternet_sessions_closed_total\{/ { sub(/.*result="/, "", $1); sub(/".*/, "", $1); closed = closed " " $1 "=" $2 + 0 }
    /^biternet_errors_total\{/ && $2 > 0 { sub(/.*code="/, "", $1); sub(/".*/, "", $1); errors = errors " " $1 "=" $2 + 0 }
    /^biternet_refused_total\{/ && $2 > 0 { sub(/.*limit="/, "", $1); sub(/".*/, "", $1); refused = refused " " $1 "=" $2 + 0 }
    /^biternet_cluster_store_seconds_count\{result="ok"/ { ok = $2 } /^biternet_cluster_store_seconds_sum\{result="ok"/ { sum = $2 }
    /^biternet_cluster_store_seconds_max\{result="ok"/ { max = $2 } /^biternet_cluster_store_seconds_count\{result="error"/ { failed = $2 }
    END { printf "%s: pieces claimed:%s; sessions closed:%s; errors sent:%s (refused:%s)\n", n, claims, closed, errors ? errors : " none", refused ? refused : " none"
      if (ok > 0) printf "%s: store commands %d ok (mean %.2f ms, max %.0f ms), %d failed\n", n, ok, sum / ok * 1000, max * 1000, failed }'
  grep -c 'ERROR\|WARN' "$work/serve$k.err" | sed "s/^/$name: warnings and errors logged: /" || true
done
sort -k1,1g "$work/open.txt" | tail -1 | awk '{ printf "servers: at most %d sessions and %d channels open at once (sampled every 0.5 s)\n", $1, $2 }'
if [ "$nodes" -gt 0 ]; then
  peak="$(redis-cli -p "$redis_port" info memory | awk -F: '/^used_memory_peak:/ { print $2 + 0 }')"
  sampled="$(sort -g "$work/redis.bytes" | tail -1)"
  keys="$(redis-cli -p "$redis_port" dbsize)"
  cpu="$(redis-cli -p "$redis_port" info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { print s + 0 }')"
  awk -v p="$peak" -v s="${sampled:-0}" -v k="$keys" -v c="$cpu" 'BEGIN {
    printf "store: redis used_memory peak %.1f MiB (sampled every 0.5 s: %.1f MiB), %d keys left, %.1f s of CPU\n", p / 1048576, s / 1048576, k, c }'
fi
grep -h "failed downloads" -A3 "$here/netty-client/target/surefire-reports/dev.biternet.client.LoadTest.txt" 2>/dev/null | head -4 || true
exit "$status"

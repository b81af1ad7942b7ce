#!/usr/bin/env bash
# The larger load test: one biternet-serve process, SESSIONS concurrent downloads of 3 loopback
# links each, driven by netty-client's LoadTest (the real client code, in one JVM). Every
# download must verify. Prints the wall time, the server's peak heap use (sampled every 0.5 s
# with jstat) and its peak RSS (VmHWM). Needs the built server jar (./mvnw -DskipTests package).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sessions="${SESSIONS:-1000}"
work="$(mktemp -d)"
server_pid=""
sampler_pid=""
poller_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  [ -n "$poller_pid" ] && kill "$poller_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root"
java ${SERVER_JAVA_OPTS:-} -jar "$here/netty-server/target/biternet-serve.jar" --root "$work/root" --host 127.0.0.1 --port 0 \
  --max-sessions-per-address $((sessions * 2)) --max-channels-per-address $((sessions * 4)) --hello-timeout 30 \
  --metrics-port 0 --log-level WARN > "$work/serve.out" 2> "$work/serve.err" &
server_pid=$!
echo "$server_pid" > "${PID_FILE:-/dev/null}"
for _ in $(seq 100); do grep -q ' port ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
port="$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/serve.out" | head -1)"
for _ in $(seq 100); do grep -q 'metrics on' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
metrics="$(sed -n 's/.*metrics on \(http[^ ]*\).*/\1/p' "$work/serve.out" | head -1)"
# Open sessions and channels on the server, every 0.5 s, from its Prometheus endpoint.
(while sleep 0.5; do curl -s "$metrics" | awk '/^biternet_sessions_open / { s = $2 } /^biternet_channels_open / { c = $2 } END { print s, c; fflush() }'; done) > "$work/open.txt" &
poller_pid=$!
# Heap in use = survivor + eden + old (KiB), every 0.5 s.
jstat -gc "$server_pid" 500 | awk 'NR > 1 { print $3 + $4 + $6 + $8; fflush() }' > "$work/heap.kib" &
sampler_pid=$!
start=$(date +%s.%N)
status=0
(cd "$here" && ./mvnw -B -q -pl netty-client -am verify -Dtest=LoadTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dbiternet.load.sessions="$sessions" -Dbiternet.load.server="127.0.0.1:$port" -Dbiternet.load.root="$work/root" \
  -Dbiternet.load.rampSeconds="${RAMP_SECONDS:-0}" -Dbiternet.load.rate="${RATE:-}" \
  -Dbiternet.load.largeBytes="${LARGE_BYTES:-16777216}") || status=$?
end=$(date +%s.%N)
grep -h '^load:' "$here/netty-client/target/surefire-reports/dev.biternet.client.LoadTest-output.txt" || true
peak_heap_kib="$(sort -g "$work/heap.kib" | tail -1)"
rss_kib="$(awk '/VmHWM/ { print $2 }' "/proc/$server_pid/status")"
threads="$(awk '/Threads/ { print $2 }' "/proc/$server_pid/status")"
awk -v s="$sessions" -v w="$(echo "$end - $start" | bc)" -v h="$peak_heap_kib" -v r="$rss_kib" -v t="$threads" 'BEGIN {
  printf "server: %d sessions x 3 links: peak heap used %.0f MiB, peak RSS %.0f MiB, %d threads; wall (with the maven build) %.1f s\n",
    s, h / 1024, r / 1024, t, w }'
sort -k1,1g "$work/open.txt" | tail -1 | awk '{ printf "server: at most %d sessions and %d channels open at once (sampled every 0.5 s)\n", $1, $2 }'
grep -c 'ERROR\|WARN' "$work/serve.err" | sed 's/^/server warnings and errors logged: /' || true
grep -h "failed downloads" -A3 "$here/netty-client/target/surefire-reports/dev.biternet.client.LoadTest.txt" 2>/dev/null | head -4 || true
exit "$status"

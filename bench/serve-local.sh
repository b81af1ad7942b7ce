# Sourced by bench scripts (needs $here, the checkout): start_serve NAME ROOT WORK starts
# bin/biternet-serve for ROOT on 127.0.0.1, its output in WORK, and sets serve_pid and
# serve_port; the caller stops serve_pid. NAME prefixes its error lines.
start_serve() {
  local name=$1 root=$2 work=$3
  "$here/bin/biternet-serve" --root "$root" --host 127.0.0.1 --port 0 >"$work/serve.out" 2>"$work/serve.err" &
  serve_pid=$!
  for _ in $(seq 100); do
    grep -q ' port ' "$work/serve.out" 2>/dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err" >&2; echo "$name: biternet-serve did not start" >&2; exit 1; }
    sleep 0.1
  done
  serve_port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$work/serve.out")
  [ -n "$serve_port" ] || { echo "$name: biternet-serve printed no port" >&2; exit 1; }
}

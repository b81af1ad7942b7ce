#!/usr/bin/env bash
# One file over loopback, two ways, in one run: biternet (bin/biternet-serve and
# bin/biternet-get, one link) against nginx (sendfile on) and curl. Each download goes to a real
# file on disk. After W warm-up downloads each (page cache, the server's hashes and JIT: a serving
# daemon is warm, as nginx is from its first request; the client's class-data archive), R rounds
# alternate the two and the script prints the medians:
#
#   wall s      the client process from start to exit (biternet: JVM start-up, download,
#               verification, fsync, rename; curl: download, then `sync FILE` so its data is on
#               disk too, as biternet's is; the curl-only time is printed as well)
#   MiB/s       file size / wall s
#   CPU s/GiB   client: user+sys of the client process (/usr/bin/time); server: user+sys of the
#               server process from /proc/PID/stat before and after the download
#
# and the throughput ratio biternet / (nginx+curl). Before every download the kernel's cached TCP
# metrics are flushed (`ip tcp_metrics flush all`, as root; -m keeps them): both clients connect
# to 127.0.0.1, so each connection would otherwise start with the RTT, reordering and window
# that the previous one, of the other method, left for that address (compare.sh does the same
# in the lab). This makes the rounds independent; it does not remove this VM's slow rounds
# (bench/README.md, "Fourth round"). Needs python3, nginx (nginx-light), curl and
# /usr/bin/time (apt-get install nginx-light curl time). Cleans up after itself, also on ^C.
#
# Usage: bench/loopback-vs-nginx.sh [-r ROUNDS] [-w WARMUPS] [-s SIZE_MIB] [-d DIR] [-m]
#   -r  rounds (default 5); -w warm-up downloads each (default 3); -s file size in MiB (default
#   1024); -d where to put the served file
#   and the downloads (default a new directory under /var/tmp; must be on a real disk); -m keeps
#   the cached TCP metrics between downloads (each method then inherits the other's)
# BITERNET_JAVA_OPTS is passed to both biternet JVMs (e.g. for JFR).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/serve-local.sh
. "$here/bench/serve-local.sh"
rounds=5
warmups=3
size_mib=1024
base=/var/tmp
flush_metrics=1
while getopts "r:w:s:d:mh" opt; do
  case "$opt" in
    r) rounds="$OPTARG" ;;
    w) warmups="$OPTARG" ;;
    s) size_mib="$OPTARG" ;;
    d) base="$OPTARG" ;;
    m) flush_metrics=0 ;;
    *) sed -n '2,28p' "$0"; exit 2 ;;
  esac
done
for tool in python3 nginx curl /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "loopback-vs-nginx: $tool is missing (apt-get install nginx-light curl time)" >&2; exit 2; }
done

work="$(mktemp -d "$base/biternet-vs-nginx.XXXXXX")"
serve_pid=""
nginx_pid=""
cleanup() {
  set +e
  for pid in $serve_pid $nginx_pid; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

served="$work/served"
mkdir -p "$served" "$work/out" "$work/nginx"
file=big.bin
echo "creating a ${size_mib} MiB file in $served ..." >&2
head -c "$((size_mib << 20))" /dev/urandom >"$served/$file"
bytes=$(stat -c %s "$served/$file")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
clk_tck=$(getconf CLK_TCK)
# user+sys seconds of a process so far (fields 14 and 15 of /proc/PID/stat, after the command name)
cpu_of() { awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / t }' "/proc/$1/stat"; }

# biternet-serve: the launcher execs java, so serve_pid is the server JVM.
start_serve loopback-vs-nginx "$served" "$work"
bport=$serve_port

# nginx: one process (no master), in the foreground, as our child; everything under $work.
nport=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nport;
    root $served;
  }
}
EOF
nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 50); do
  curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$nport/$file" && break
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$work/nginx/error.log" >&2; echo "loopback-vs-nginx: nginx did not start" >&2; exit 1; }
  sleep 0.1
done

if [ "$flush_metrics" = 1 ] && ! ip tcp_metrics flush all 2>/dev/null; then
  echo "loopback-vs-nginx: cannot flush the TCP metrics cache (needs root and iproute2); run with -m to keep it" >&2
  exit 2
fi
fresh_metrics() { [ "$flush_metrics" = 0 ] || ip tcp_metrics flush all; }

results="$work/results.tsv"
# name, wall s, client cpu s, server cpu s, extra (biternet: its own seconds; curl: curl-only wall)
run_biternet() {
  local out="$work/out/$file" s0 s1
  rm -f "$out"
  fresh_metrics
  s0=$(cpu_of "$serve_pid")
  /usr/bin/time -f "%e %U %S" -o "$work/time" \
    "$here/bin/biternet-get" --json --iface 127.0.0.1 -o "$out" "biternet://127.0.0.1:$bport/$file" >"$work/get.json"
  s1=$(cpu_of "$serve_pid")
  [ "$(stat -c %s "$out")" = "$bytes" ] || { echo "loopback-vs-nginx: biternet output has the wrong size" >&2; exit 1; }
  read -r wall user sys <"$work/time"
  inner=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/get.json")
  printf "%s\t%s\t%s\t%s\t%s\n" "$1" "$wall" "$(python3 -c "print($user+$sys)")" \
    "$(python3 -c "print($s1-$s0)")" "$inner" >>"$results"
  rm -f "$out"
}
run_curl() {
  local out="$work/out/$file" s0 s1 t0 t1
  rm -f "$out"
  fresh_metrics
  s0=$(cpu_of "$nginx_pid")
  t0=$(date +%s.%N)
  /usr/bin/time -f "%e %U %S" -o "$work/time" curl -sSf -o "$out" "http://127.0.0.1:$nport/$file"
  t1=$(date +%s.%N)
  sync "$out"
  t2=$(date +%s.%N)
  s1=$(cpu_of "$nginx_pid")
  [ "$(stat -c %s "$out")" = "$bytes" ] || { echo "loopback-vs-nginx: curl output has the wrong size" >&2; exit 1; }
  read -r _ user sys <"$work/time"
  printf "%s\t%s\t%s\t%s\t%s\n" "$1" "$(python3 -c "print($t2-$t0)")" "$(python3 -c "print($user+$sys)")" \
    "$(python3 -c "print($s1-$s0)")" "$(python3 -c "print($t1-$t0)")" >>"$results"
  rm -f "$out"
}

echo "warm-up ($warmups each) ..." >&2
: >"$results"
for _ in $(seq "$warmups"); do
  run_biternet warmup-biternet
  run_curl warmup-curl
done
: >"$results"
for r in $(seq "$rounds"); do
  echo "round $r/$rounds ..." >&2
  run_biternet biternet
  run_curl curl
done

echo "per round: name, wall s, client CPU s, server CPU s, biternet's own s / curl without sync" >&2
column -t "$results" >&2
python3 - "$results" "$bytes" "$rounds" <<'EOF'
import statistics, sys
path, size, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(path):
    name, wall, client, server, extra = line.split("\t")
    rows.setdefault(name, []).append((float(wall), float(client), float(server), float(extra)))
mib, gib = size / 2**20, size / 2**30
med = lambda name, i: statistics.median(r[i] for r in rows[name])
print(f"{mib:.0f} MiB file over 127.0.0.1, medians of {rounds} rounds (each to a file on disk)")
print(f"{'':26s} {'wall s':>8s} {'MiB/s':>8s} {'client CPU s/GiB':>17s} {'server CPU s/GiB':>17s}")
for name, label in (("biternet", "biternet (1 link)"), ("curl", "nginx + curl (+fsync)")):
    w = med(name, 0)
    print(f"{label:26s} {w:8.2f} {mib / w:8.0f} {med(name, 1) / gib:17.2f} {med(name, 2) / gib:17.2f}")
b_inner, c_only = med("biternet", 3), med("curl", 3)
print(f"{'biternet, own seconds':26s} {b_inner:8.2f} {mib / b_inner:8.0f}   (connect .. verified rename; no JVM start)")
print(f"{'curl only (no fsync)':26s} {c_only:8.2f} {mib / c_only:8.0f}")
ratio = med("curl", 0) / med("biternet", 0)
print(f"throughput ratio biternet / nginx+curl = {ratio:.2f}  (wall-time ratio {1 / ratio:.2f})")
EOF

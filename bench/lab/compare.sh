#!/usr/bin/env bash
# Compares biternet with the other ways to pull one file over several links, in ONE run, on
# the same lab links (lab.sh) and the same random file:
#
#   biternet   biternet-get over every link (after a 1 MiB warm-up download, so server and
#              client have run before); wall time of the whole biternet-get process, JVM
#              start and biternet's per-piece SHA-256 checks included
#   biternet1  the same with a fixed number of TCP flows per link (--iface X:flows=N; N is
#              --fixed-flows, 1 by default)
#   http       biternet-get over every link from the same nginx URL as aria2c (an HTTP mirror,
#              issue 19: no biternet server, no piece hashes; whole process, as biternet)
#   http1      the same with a fixed number of connections per link (as biternet1)
#   aria2      aria2c --multiple-interface (one client address per link) from nginx
#              (sendfile on) in the server namespace: "-x N -s N -k 1M" for N links, and
#              "-x16 -s16 -k 1M"
#   mptcp      curl over Linux kernel MPTCP (mptcpize run curl / mptcpize run nginx), one
#              subflow endpoint per extra link, 16 MiB tcp_rmem/wmem for that run only
#   single     curl over the fastest link alone (curl --interface 198.18.F.2), plain nginx
#   alone      "the links alone": one curl from nginx over each link by itself, one link after
#              the other, for the whole file or 10 s (--alone-seconds); their goodputs
#              (bytes / curl's time, slow start included) summed. The honest ceiling on long
#              or lossy links. Slow start over a 500 ms round trip takes ~6 s: for files that
#              take much longer than 10 s, give --alone-seconds about the file's time.
#
# For each: the median over the rounds of wall seconds, goodput (file bits / wall), goodput
# over the sum of link rates and over the links alone (medians), the SHA-256 check of the
# output file (computed after the timed run for aria2c and curl), and the bytes each client
# interface received on the wire (headers and retransmissions included), and the 1-minute
# load average before each run (the machine may be shared: a high one explains an outlier).
# Methods run interleaved within each round, so load drift on the machine hits all of them
# alike. biternet / aria2c (aria2c's configuration with the best median) and biternet / links
# alone are also given as the median of the per-round ratios. Every run's per-link throughput
# over time (rx bytes of the client's interfaces sampled every 100 ms) is kept, and the median
# round of each method is drawn with gnuplot, one PNG per method, into bench/lab/out/RUN/.
#
# Usage: bench/lab/compare.sh [--links "40 20 10"] [--size-mib 128] [--rounds 3]
#                             [--cc bbr|cubic] [--only biternet,biternet1,http,http1,aria2,mptcp,single,alone]
#                             [--alone-seconds 10] [--fixed-flows 1] [--no-plot] [--keep]
#   --links   one lab.sh link spec per link: RATE or RATE:DELAY_MS[:LOSS_PCT[:QUEUE_MS[:JITTER_MS]]]
#             (e.g. "50:250 20:10", "30:20:1 30:20"); --rates is the same option
#   --cc      TCP congestion control in both namespaces (default: the host's)
# Needs root (network namespaces). Installs aria2, nginx-light, curl, mptcpd, iproute2,
# ethtool, jq, gcc and gnuplot-nox with apt-get when missing. Work files, the random file and
# per-run logs go to a temporary directory on disk; it is printed and kept when something
# failed (or with --keep), removed otherwise. Everything started here is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lab="$here/lab.sh"

rates="40 20 10"
size_mib=128
rounds=3
only="biternet,aria2,mptcp,single,alone"
keep=0
cc=""
plot=1
alone_s=10
fixed_flows=1

usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "compare.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --links|--rates) rates=${2:?}; shift 2 ;;
    --cc) cc=${2:?}; shift 2 ;;
    --no-plot) plot=0; shift ;;
    --alone-seconds) alone_s=${2:?}; shift 2 ;;
    --fixed-flows) fixed_flows=${2:?}; shift 2 ;;
    --size-mib) size_mib=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

read -r -a spec_list <<<"$rates"
nlinks=${#spec_list[@]}
[ "$nlinks" -ge 1 ] || die "--links needs at least one link"
[ "$nlinks" -le 8 ] || die "at most 8 links (MPTCP's subflow limit is 8)"
rate_list=()
for spec in "${spec_list[@]}"; do # the rest of a spec is checked by lab.sh up
  r=${spec%%:*}
  [[ "$r" =~ ^[1-9][0-9]*$ ]] || die "link '$spec': the rate is not a whole number of Mbit/s"
  rate_list+=("$r")
done
case "$cc" in ""|bbr|cubic|reno) ;; *) die "--cc: bbr, cubic or reno" ;; esac
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] || die "--size-mib must be a positive whole number"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive whole number"
[[ "$alone_s" =~ ^[1-9][0-9]*$ ]] || die "--alone-seconds must be a positive whole number"
want() { [[ ",$only," == *",$1,"* ]]; }
for m in ${only//,/ }; do
  case "$m" in biternet|biternet1|http|http1|aria2|mptcp|single|alone) ;; *) die "--only: unknown method '$m'" ;; esac
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"

# ---- packages and build --------------------------------------------------------------------
need_pkgs=()
command -v aria2c >/dev/null || need_pkgs+=(aria2)
command -v nginx >/dev/null || need_pkgs+=(nginx-light)
command -v curl >/dev/null || need_pkgs+=(curl)
command -v mptcpize >/dev/null || need_pkgs+=(mptcpd)
command -v ip >/dev/null && command -v tc >/dev/null || need_pkgs+=(iproute2)
command -v ethtool >/dev/null || need_pkgs+=(ethtool)
command -v jq >/dev/null || need_pkgs+=(jq)
[[ "$rates" == *:* ]] && ! command -v gcc >/dev/null && need_pkgs+=(gcc)
[ "$plot" = 1 ] && ! command -v gnuplot >/dev/null && need_pkgs+=(gnuplot-nox)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "compare.sh: installing ${need_pkgs[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >&2
fi
if want biternet; then
  if ! ls "$repo"/netty-client/target/biternet-get.jar "$repo"/netty-server/target/biternet-serve.jar >/dev/null 2>&1; then
    echo "compare.sh: building biternet (./mvnw -q -B -o package -DskipTests)" >&2
    (cd "$repo" && ./mvnw -q -B -o package -DskipTests) >&2
  fi
fi

# ---- state and teardown --------------------------------------------------------------------
name="cmp$$"; name=${name:0:10}
work=$(mktemp -d /var/tmp/biternet-compare.XXXXXX)
logs="$work/logs"; root="$work/root"; out="$work/out"; samples="$work/samples"
mkdir -p "$logs" "$root" "$out" "$samples"
# Throughput-over-time samples and plots outlive the work directory.
plots="$here/out/$(date -u +%Y%m%d-%H%M%S)-$name"
chmod 755 "$work" "$root" # nginx workers run as an unprivileged user
pids=()
failed=0
lab_up=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}" ${sampler:-}; do kill "$p" 2>/dev/null || true; done
  # Anything still alive in our own namespaces (nginx workers, a client cut short) is ours.
  if [ "$lab_up" = 1 ]; then
    for ns in "$name-cli" "$name-srv"; do
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    done
    sleep 0.5
    for ns in "$name-cli" "$name-srv"; do
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    "$lab" down "$name" || true
  fi
  if [ "$rc" != 0 ] || [ "$failed" != 0 ] || [ "$keep" = 1 ]; then
    rm -f "$root/data.bin" "$out"/* 2>/dev/null || true
    echo "compare.sh: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

srv() { ip netns exec "$name-srv" "$@"; }
cli() { ip netns exec "$name-cli" "$@"; }
# Runs a command in the background and waits, so INT/TERM reach the trap at once.
bg_wait() { "$@" & local p=$!; wait "$p"; }

sum_rate=0; fastest=1; fastest_rate=0
for i in $(seq 1 "$nlinks"); do
  r=${rate_list[$((i - 1))]}
  sum_rate=$((sum_rate + r))
  if [ "$r" -gt "$fastest_rate" ]; then fastest=$i; fastest_rate=$r; fi
done
bytes=$((size_mib * 1048576))
# Generous per-transfer limit: 4x the ideal time on the fastest link alone, plus 60 s.
limit=$((bytes * 8 * 4 / (fastest_rate * 1000000) + 60))

load0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- lab, file, servers --------------------------------------------------------------------
echo "compare.sh: lab $name, links ${rates}, ${size_mib} MiB, ${rounds} rounds, work dir $work" >&2
lab_up=1
"$lab" up "$name" "${spec_list[@]}" >"$logs/lab-up.log" 2>&1 || { cat "$logs/lab-up.log" >&2; failed=1; exit 1; }
if [ -n "$cc" ]; then "$lab" cc "$name" "$cc" || { failed=1; exit 1; }; fi
cc_used=$(ip netns exec "$name-cli" sysctl -n net.ipv4.tcp_congestion_control)

head -c "$bytes" /dev/urandom >"$root/data.bin"
head -c 1048576 /dev/urandom >"$root/warmup.bin"
want_sha=$(sha256sum "$root/data.bin" | cut -d' ' -f1)

addrs=(); ifaces=()
for i in $(seq 1 "$nlinks"); do addrs+=("198.18.$i.2"); ifaces+=("${name}c$i"); done
join() { local IFS=$1; shift; echo "$*"; }

wait_for() { # wait_for LOGFILE PATTERN PID WHAT
  for _ in $(seq 1 150); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "compare.sh: $4 exited:" >&2; cat "$1" >&2; failed=1; exit 1; }
    sleep 0.1
  done
  echo "compare.sh: $4 did not start in 15 s:" >&2; cat "$1" >&2; failed=1; exit 1
}

nginx_conf() { # nginx_conf PORT
  local port=$1
  mkdir -p "$work/nginx-$port"
  cat >"$work/nginx-$port/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx-$port/nginx.pid;
error_log $logs/nginx-$port.err warn;
events { worker_connections 1024; }
http {
  access_log $logs/nginx-$port.access;
  client_body_temp_path $work/nginx-$port/body;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  server {
    listen 198.18.100.1:$port;
    root $root;
  }
}
EOF
}
start_nginx() { # start_nginx PORT [mptcpize]
  local port=$1; shift
  nginx_conf "$port"
  srv "$@" nginx -e "$logs/nginx-$port.err" -p "$work/nginx-$port" -c "$work/nginx-$port/nginx.conf" \
    >"$logs/nginx-$port.out" 2>&1 &
  pids+=($!)
  local p=$!
  for _ in $(seq 1 100); do
    srv curl -sf -o /dev/null --max-time 2 "http://198.18.100.1:$port/warmup.bin" 2>/dev/null && return 0
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  echo "compare.sh: nginx on port $port did not start:" >&2
  cat "$logs/nginx-$port.out" "$logs/nginx-$port.err" >&2 || true
  failed=1; exit 1
}

if want biternet || want biternet1 || want http || want http1; then
  # Run a private copy of the launchers and jars: others may rebuild target/ during the run.
  snap="$work/biternet"
  mkdir -p "$snap/bin" "$snap/netty-client/target" "$snap/netty-server/target"
  cp "$repo/bin/biternet-get" "$repo/bin/biternet-serve" "$snap/bin/"
  cp "$repo/netty-client/target/biternet-get.jar" "$snap/netty-client/target/"
  cp "$repo/netty-server/target/biternet-serve.jar" "$snap/netty-server/target/"
  biternet_args=()
  biternet1_args=()
  for c in "${ifaces[@]}"; do biternet_args+=(--iface "$c"); biternet1_args+=(--iface "$c:flows=$fixed_flows"); done
  serve_starts=0
  start_biternet() { # the server, then a 1 MiB warm-up download through every link
    serve_starts=$((serve_starts + 1))
    local log="$logs/biternet-serve.$serve_starts.log"
    srv "$snap/bin/biternet-serve" --root "$root" --host 198.18.100.1 --port 7420 --hash-cache none >"$log" 2>&1 &
    pids+=($!)
    serve_pid=$!
    wait_for "$log" " port 7420 " "$serve_pid" "biternet-serve"
    if ! cli "$snap/bin/biternet-get" --json "${biternet_args[@]}" -o "$out/warmup.bin" \
        biternet://198.18.100.1:7420/warmup.bin >"$logs/biternet-warmup.$serve_starts.json" 2>"$logs/biternet-warmup.$serve_starts.err"; then
      echo "compare.sh: biternet warm-up download failed:" >&2; cat "$logs/biternet-warmup.$serve_starts.err" >&2
      failed=1; exit 1
    fi
    rm -f "$out/warmup.bin"
  }
  if want biternet; then start_biternet; fi
fi
if want aria2 || want http || want http1 || want single || want alone; then start_nginx 8080; fi
if want http || want http1; then
  # The same warm-up as biternet's (JIT, class-data archive): the launcher's archive covers a
  # kind of source once a download of that kind has run, and the first one of a kind pays the
  # archive's dump (~3 s) inside its wall time.
  if ! cli "$snap/bin/biternet-get" --json "${biternet_args[@]}" -o "$out/warmup.bin" \
      http://198.18.100.1:8080/warmup.bin >"$logs/http-warmup.json" 2>"$logs/http-warmup.err"; then
    echo "compare.sh: biternet-get warm-up download from nginx failed:" >&2; cat "$logs/http-warmup.err" >&2
    failed=1; exit 1
  fi
  rm -f "$out/warmup.bin"
fi
if want mptcp; then
  for ns in "$name-srv" "$name-cli"; do ip netns exec "$ns" sysctl -qw net.mptcp.enabled=1; done
  lim=$nlinks; [ "$lim" -gt 8 ] && lim=8
  srv ip mptcp limits set subflow "$lim" add_addr_accepted "$lim"
  cli ip mptcp limits set subflow "$lim" add_addr_accepted "$lim"
  # Link 1 carries the initial subflow (the client's main default route); one more subflow
  # per extra link, from that link's address.
  for i in $(seq 2 "$nlinks"); do
    cli ip mptcp endpoint add "198.18.$i.2" dev "${name}c$i" subflow
  done
  start_nginx 8081 mptcpize run
fi

# ---- measurements --------------------------------------------------------------------------
rx_bytes() { # bytes received so far on each client link, space-separated
  local c v=()
  for c in "${ifaces[@]}"; do v+=("$(cli cat "/sys/class/net/$c/statistics/rx_bytes")"); done
  echo "${v[*]}"
}
set_bufs() { # set_bufs big|default
  local ns
  # A lab with delay lines already has 64 MiB maxima (lab.sh): never lower them.
  [ "${saved_rmem##* }" -ge 16777216 ] && return 0
  for ns in "$name-srv" "$name-cli"; do
    if [ "$1" = big ]; then
      ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 131072 16777216" net.ipv4.tcp_wmem="4096 16384 16777216"
    else
      ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="$saved_rmem" net.ipv4.tcp_wmem="$saved_wmem"
    fi
  done
}
saved_rmem=$(cli sysctl -n net.ipv4.tcp_rmem | tr -s '\t ' ' ')
saved_wmem=$(cli sysctl -n net.ipv4.tcp_wmem | tr -s '\t ' ' ')

methods=()
want biternet && methods+=(biternet)
want biternet1 && methods+=(biternet1)
want http && methods+=(http)
want http1 && methods+=(http1)
want aria2 && methods+=(aria2-x$nlinks aria2-x16)
want mptcp && methods+=(mptcp)
want single && methods+=(single)
want alone && methods+=(alone)

results="$work/results.tsv" # method round wall ok rx-per-link extra
alone_tsv="$work/alone.tsv" # round link Mbit/s
: >"$results"; : >"$alone_tsv"

sampler=""
start_sampler() { # start_sampler FILE: "epoch-seconds rx-bytes-per-link..." every 100 ms, in the background
  local files=() c
  for c in "${ifaces[@]}"; do files+=("/sys/class/net/$c/statistics/rx_bytes"); done
  # One long-lived shell inside the client namespace (ip netns exec, not cli: $! must be that
  # shell), no process per sample but sleep.
  ip netns exec "$name-cli" bash -c 'while :; do line=$EPOCHREALTIME; for f in "$@"; do read -r v <"$f"; line+=" $v"; done
    echo "$line"; sleep 0.1; done' sampler "${files[@]}" >"$1" 2>/dev/null &
  sampler=$!
}
stop_sampler() { [ -n "$sampler" ] && { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; sampler=""; } || true; }

measure_alone() { # measure_alone ROUND: one curl per link, that link only, the file or $alone_s s
  local rnd=$1 i line sum=0 mbit bytes_got secs rc
  for i in $(seq 1 "$nlinks"); do
    srv ip tcp_metrics flush all 2>/dev/null || true
    cli ip tcp_metrics flush all 2>/dev/null || true
    start_sampler "$samples/alone.r$rnd.l$i"
    rc=0
    line=$(bg_wait cli curl -sS --interface "198.18.$i.2" -m "$alone_s" -o /dev/null -w '%{size_download} %{time_total}' \
      "http://198.18.100.1:8080/data.bin" 2>"$logs/alone.r$rnd.l$i.err") || rc=$?
    stop_sampler
    # 28: curl's own time limit, the expected end on a link slower than the file.
    if [ "$rc" != 0 ] && [ "$rc" != 28 ]; then
      echo "compare.sh: link $i alone, round $rnd FAILED (curl exit $rc), see $logs/alone.r$rnd.l$i.err" >&2
      failed=1; mbit=0
    else
      read -r bytes_got secs <<<"$line"
      mbit=$(awk -v b="$bytes_got" -v s="$secs" 'BEGIN{printf "%.2f", b*8/s/1e6}')
    fi
    printf '%s\t%s\t%s\n' "$rnd" "$i" "$mbit" >>"$alone_tsv"
    sum=$(awk -v a="$sum" -v b="$mbit" 'BEGIN{printf "%.2f", a+b}')
  done
  printf '  round %d %-10s %7.1f Mbit/s (%s)\n' "$rnd" alone "$sum" \
    "$(awk -F'\t' -v r="$rnd" '$1 == r {printf "%s%s", (n++ ? "/" : ""), $3}' "$alone_tsv")" >&2
}

measure() { # measure METHOD ROUND
  [ "$1" = alone ] && { measure_alone "$2"; return; }
  local m=$1 rnd=$2 log="$logs/$1.r$2" file="$out/data.bin" rc=0 t0 t1 before after ok extra="-" load1
  load1=$(cut -d' ' -f1 /proc/loadavg)
  rm -f "$file" "$file.part" "$file.aria2"
  [ "$m" = mptcp ] && set_bufs big
  # Every run starts with the kernel's per-destination TCP metrics (cached ssthresh, RTT,
  # cwnd) forgotten: biternet-serve and nginx share the server namespace's cache, so a run
  # would otherwise start from what the previous method's connections left behind (runs
  # 26-27 of RESULTS.md: biternet rounds after aria2c -x16 0.45 s slower in 3 of 6; none
  # with the flush in run 29).
  srv ip tcp_metrics flush all 2>/dev/null || true
  cli ip tcp_metrics flush all 2>/dev/null || true
  before=$(rx_bytes)
  start_sampler "$samples/$m.r$rnd"
  t0=$EPOCHREALTIME
  case "$m" in
    biternet)
      bg_wait cli timeout "$limit" "$snap/bin/biternet-get" --json "${biternet_args[@]}" -o "$file" \
        biternet://198.18.100.1:7420/data.bin >"$log.json" 2>"$log.err" || rc=$? ;;
    biternet1)
      bg_wait cli timeout "$limit" "$snap/bin/biternet-get" --json "${biternet1_args[@]}" -o "$file" \
        biternet://198.18.100.1:7420/data.bin >"$log.json" 2>"$log.err" || rc=$? ;;
    http)
      bg_wait cli timeout "$limit" "$snap/bin/biternet-get" --json "${biternet_args[@]}" -o "$file" \
        http://198.18.100.1:8080/data.bin >"$log.json" 2>"$log.err" || rc=$? ;;
    http1)
      bg_wait cli timeout "$limit" "$snap/bin/biternet-get" --json "${biternet1_args[@]}" -o "$file" \
        http://198.18.100.1:8080/data.bin >"$log.json" 2>"$log.err" || rc=$? ;;
    aria2-x*)
      local x=${m#aria2-x}
      bg_wait cli timeout "$limit" aria2c --no-conf=true \
        --multiple-interface="$(join , "${addrs[@]}")" \
        -x "$x" -s "$x" -k 1M --max-connection-per-server="$x" \
        --file-allocation=none --summary-interval=0 --console-log-level=warn \
        --show-console-readout=false --download-result=hide \
        --allow-overwrite=true --auto-file-renaming=false --remote-time=false \
        --conditional-get=false --check-integrity=false --disable-ipv6=true \
        --max-tries=1 --retry-wait=0 --lowest-speed-limit=0 --max-download-limit=0 \
        --log="$log.log" --log-level=notice \
        -d "$out" -o data.bin "http://198.18.100.1:8080/data.bin" >"$log.out" 2>&1 || rc=$? ;;
    mptcp)
      bg_wait cli timeout "$limit" mptcpize run curl -sS --fail -o "$file" \
        "http://198.18.100.1:8081/data.bin" >"$log.out" 2>&1 || rc=$? ;;
    single)
      bg_wait cli timeout "$limit" curl -sS --fail --interface "198.18.$fastest.2" -o "$file" \
        "http://198.18.100.1:8080/data.bin" >"$log.out" 2>&1 || rc=$? ;;
  esac
  t1=$EPOCHREALTIME
  stop_sampler
  after=$(rx_bytes)
  [ "$m" = mptcp ] && { cli nstat -asz 2>/dev/null | grep -E 'MPTcpExt(MPJoin|MPCapable|MPFallback)' >"$log.nstat" || true; set_bufs default; }
  if [ "$rc" = 0 ] && [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$want_sha" ]; then
    ok=ok
  else
    ok=FAIL; failed=1
    echo "compare.sh: $m round $rnd FAILED (exit $rc), see $log.*" >&2
  fi
  local rx
  rx=$(paste -d' ' <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | awk '{printf "%s%.1f", (NR>1?"/":""), ($2-$1)/1048576}')
  if [[ "$m" == biternet* || "$m" == http* ]] && [ -s "$log.json" ]; then
    extra=$(jq -r '"payload MiB " + ([.links[] | (.bytes/1048576*10|round/10|tostring)] | join("/"))
                  + ", dup " + ((.duplicate_bytes/1048576*100|round/100)|tostring) + " MiB"
                  + " (per link " + ([.links[] | (.duplicate_bytes/1048576*100|round/100|tostring)] | join("/")) + ")"
                  + ", own s " + (.seconds*100|round/100|tostring)
                  + ", link s " + ([.links[] | (.seconds*10|round/10|tostring)] | join("/"))' "$log.json" 2>/dev/null || echo "-")
  fi
  local wall
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$rnd" "$wall" "$ok" "$rx" "$extra" "$load1" >>"$results"
  printf '  round %d %-10s %7.2f s  %-4s  load %s  rx MiB per link %s  %s\n' "$rnd" "$m" "$wall" "$ok" "$load1" "$rx" "$extra" >&2
  rm -f "$file"
}

for rnd in $(seq 1 "$rounds"); do
  for m in "${methods[@]}"; do
    measure "$m" "$rnd"
    if [ -n "${serve_pid:-}" ] && ! kill -0 "$serve_pid" 2>/dev/null; then
      # Not expected: biternet-serve runs until we stop it. Say how it ended, start it again.
      st=0; wait "$serve_pid" 2>/dev/null || st=$?
      how="status $st"; [ "$st" -gt 128 ] && how="$how, signal $(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128)))"
      echo "compare.sh: biternet-serve exited ($how) during or after $m round $rnd; restarting it (with warm-up)" >&2
      echo "serve exited ($how) after $m round $rnd" >>"$work/events"
      start_biternet
    fi
  done
done

# ---- report --------------------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
wall_of() { awk -F'\t' -v m="$1" -v r="$2" '$1 == m && $2 == r && $4 == "ok" { print $3 }' "$results"; }
alone_of() { awk -F'\t' -v r="$1" '$1 == r { s += $3; n++ } END { if (n) print s }' "$alone_tsv"; }
median_round() { # the round whose wall time (alone: whose sum) is the median; empty if none
  local m=$1 r
  for r in $(seq 1 "$rounds"); do
    if [ "$m" = alone ]; then echo "$r $(alone_of "$r")"; else echo "$r $(wall_of "$m" "$r")"; fi
  done | awk 'NF == 2' | sort -k2 -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'
}
alone_med=$( [ -s "$alone_tsv" ] && for r in $(seq 1 "$rounds"); do alone_of "$r"; done | median || true)
# aria2c's configuration with the best median wall time is "aria2c" in the ratios.
best_aria=""; best_aria_wall=""
for m in "${methods[@]}"; do
  [[ "$m" == aria2-* ]] || continue
  w=$(for r in $(seq 1 "$rounds"); do wall_of "$m" "$r"; done | median)
  [ -n "$w" ] || continue
  if [ -z "$best_aria_wall" ] || awk -v a="$w" -v b="$best_aria_wall" 'BEGIN{exit !(a < b)}'; then best_aria=$m; best_aria_wall=$w; fi
done
ratios_of() { # ratios_of METHOD: "ratio_aria|per-round ratios|ratio_alone|per-round ratios"
  local m=$1 r b a al ra="" rl=""
  for r in $(seq 1 "$rounds"); do
    b=$(wall_of "$m" "$r")
    [ -n "$b" ] || continue
    if [ -n "$best_aria" ]; then
      a=$(wall_of "$best_aria" "$r")
      [ -n "$a" ] && ra+="$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", a / b}') "
    fi
    al=$(alone_of "$r")
    [ -n "$al" ] && rl+="$(awk -v b="$b" -v al="$al" -v bytes="$bytes" 'BEGIN{printf "%.3f", bytes * 8 / b / 1e6 / al}') "
  done
  ra=${ra% }; rl=${rl% }
  echo "$(tr ' ' '\n' <<<"$ra" | awk 'NF' | median)|$ra|$(tr ' ' '\n' <<<"$rl" | awk 'NF' | median)|$rl"
}
ratio_vs_aria=""; ratio_vs_alone=""; ratios_aria=""; ratios_alone=""
if want biternet; then IFS='|' read -r ratio_vs_aria ratios_aria ratio_vs_alone ratios_alone <<<"$(ratios_of biternet)"; fi
http_vs_aria=""; http_vs_alone=""; http_aria=""; http_alone=""
if want http; then IFS='|' read -r http_vs_aria http_aria http_vs_alone http_alone <<<"$(ratios_of http)"; fi

links_desc=""
for i in $(seq 1 "$nlinks"); do
  IFS=: read -r -a f <<<"${spec_list[$((i - 1))]}"
  d="link $i ${f[0]} Mbit/s"
  [ ${#f[@]} -ge 2 ] && d+=" one-way ${f[1]%ms} ms"
  [ ${#f[@]} -ge 3 ] && d+=" ${f[2]%\%} % loss"
  [ ${#f[@]} -ge 4 ] && d+=" queue ${f[3]%ms} ms"
  [ ${#f[@]} -ge 5 ] && d+=" jitter ${f[4]%ms} ms"
  links_desc+="${links_desc:+, }$d"
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "# biternet vs aria2c vs MPTCP vs one link vs the links alone -- $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# $links_desc (sum $sum_rate Mbit/s); file ${size_mib} MiB random; median of $rounds rounds; congestion control $cc_used"
echo "# kernel $(uname -r), $(nproc) cores, load average at the start $load0, at the end $load"
{ want biternet || want http; } && echo "# biternet source tree $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), jars built $(date -u -r "$repo/netty-client/target/biternet-get.jar" '+%Y-%m-%d %H:%M UTC')"
echo "# One TCP flow on a tbf link reaches at most ~0.957 of the rate (Ethernet+IP+TCP headers),"
echo "# so 0.957 in the /sum column is the physical ceiling. Wall = whole client process;"
echo "# biternet's includes JVM start and its per-piece SHA-256 checks, the others' do not"
echo "# (their output is hashed after the clock stops). rx = bytes on the wire per client link."
echo "# /alone = goodput over the links alone (median over rounds of the sum of one curl per link, the file or ${alone_s} s)."
echo
printf '| %-10s | %8s | %13s | %7s | %6s | %6s | %6s | %-22s | %s |\n' method "wall s" "range s" Mbit/s "/sum" "/alone" sha256 "rx MiB per link" "biternet, median round"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ---------: ---------------: --------: -------: -------: -------- ------------------------ ---
for m in "${methods[@]}"; do
  [ "$m" = alone ] && continue
  awk -F'\t' -v m="$m" -v bytes="$bytes" -v sum="$sum_rate" -v alone="${alone_med:-0}" -v rounds="$rounds" '
    $1 == m { all++; if ($4 != "ok") { bad++; next } n++; w[n] = $3; rx[n] = $5; ex[n] = $6 }
    END {
      if (all == 0) exit
      check = bad ? sprintf("FAIL %d/%d", bad, all) : "ok"
      if (n == 0) { printf "| %-10s | %8s | %13s | %7s | %6s | %6s | %-6s | %-22s | %s |\n", m, "-", "-", "-", "-", "-", check, "-", "-"; exit }
      for (i = 1; i <= n; i++) idx[i] = i
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (w[idx[j]] < w[idx[i]]) { t = idx[i]; idx[i] = idx[j]; idx[j] = t }
      if (n % 2) med = w[idx[(n + 1) / 2]]; else med = (w[idx[n / 2]] + w[idx[n / 2 + 1]]) / 2
      mid = idx[int((n + 1) / 2)]
      mbit = bytes * 8 / med / 1e6
      al = alone > 0 ? sprintf("%6.3f", mbit / alone) : "     -"
      printf "| %-10s | %8.2f | %6.2f-%6.2f | %7.1f | %6.3f | %s | %-6s | %-22s | %s |\n", m, med, w[idx[1]], w[idx[n]], mbit, mbit / sum, al, check, rx[mid], ex[mid]
    }' "$results"
done
if [ -n "$alone_med" ]; then
  echo
  printf 'Links alone: %.1f Mbit/s (median of the rounds'"'"' sums; per link, median Mbit/s: %s)\n' "$alone_med" \
    "$(for i in $(seq 1 "$nlinks"); do awk -F'\t' -v l="$i" '$2 == l { print $3 }' "$alone_tsv" | median; done | paste -sd/)"
fi
if [ -n "$ratio_vs_aria" ]; then
  echo "biternet / aria2c ($best_aria, the best aria2c median): $ratio_vs_aria (speed; median of the per-round ratios $ratios_aria)"
fi
if [ -n "$ratio_vs_alone" ]; then
  echo "biternet / links alone: $ratio_vs_alone (goodput; median of the per-round ratios $ratios_alone)"
fi
if [ -n "$http_vs_aria" ]; then
  echo "biternet-get from nginx (http) / aria2c ($best_aria): $http_vs_aria (speed; median of the per-round ratios $http_aria)"
fi
if [ -n "$http_vs_alone" ]; then
  echo "biternet-get from nginx (http) / links alone: $http_vs_alone (goodput; median of the per-round ratios $http_alone)"
fi
echo
echo "Per round (wall s, sha256, 1-min load average before the run, rx MiB per link, biternet details):"
awk -F'\t' '{ printf "  r%s %-10s %7.2f %-4s load %-5s %s  %s\n", $2, $1, $3, $4, $7, $5, ($6 == "-" ? "" : $6) }' "$results"
if [ -s "$alone_tsv" ]; then
  awk -F'\t' '{ s[$1] = s[$1] (s[$1] == "" ? "" : "/") $3 } END { for (r in s) printf "  r%s %-10s Mbit/s per link %s\n", r, "alone", s[r] }' "$alone_tsv" | sort
fi
if [ -s "$work/events" ]; then echo; echo "Events:"; sed 's/^/  /' "$work/events"; fi

# ---- plots ---------------------------------------------------------------------------------
# Per-link Mbit/s over time from the 100 ms rx samples: one PNG per method, its median round.
rates_of() { # rates_of SAMPLES [LINK]: "seconds Mbit/s-per-link... [sum]" between samples
  awk -v only="${2:-0}" 'NR == 1 { t0 = $1 } NR > 1 && $1 > t { printf "%.2f", $1 - t0; s = 0
      for (i = 2; i <= NF; i++) { v = ($i - p[i]) * 8 / ($1 - t) / 1e6; s += v
        if (!only || i - 1 == only) printf " %.2f", v }
      if (!only) printf " %.2f", s; printf "\n" }
    { t = $1; for (i = 2; i <= NF; i++) p[i] = $i }' "$1"
}
if [ "$plot" = 1 ]; then
  mkdir -p "$plots"
  cp -r "$samples" "$plots/samples"
  cp "$results" "$alone_tsv" "$plots/" 2>/dev/null || true
  for m in "${methods[@]}"; do
    r=$(median_round "$m")
    [ -n "$r" ] || continue
    gp="$plots/$m.gp"
    {
      echo "set terminal pngcairo size 1000,500 noenhanced"
      echo "set output '$plots/$m.png'"
      echo "set title '$m, round $r: $links_desc, ${size_mib} MiB, $cc_used'"
      echo "set xlabel 'seconds'; set ylabel 'Mbit/s received (on the wire)'; set grid; set key outside right"
      echo "set yrange [0:*]"
      if [ "$m" = alone ]; then
        plot="plot"
        for i in $(seq 1 "$nlinks"); do
          rates_of "$samples/alone.r$r.l$i" "$i" >"$plots/alone.r$r.l$i.dat"
          plot+=" '$plots/alone.r$r.l$i.dat' using 1:2 with lines title 'link $i alone',"
        done
        echo "${plot%,}"
      else
        rates_of "$samples/$m.r$r" >"$plots/$m.r$r.dat"
        echo "plot for [i=1:$nlinks] '$plots/$m.r$r.dat' using 1:(column(i+1)) with lines title sprintf('link %d', i), \\"
        echo "  '$plots/$m.r$r.dat' using 1:$((nlinks + 2)) with lines lw 2 title 'sum'"
      fi
    } >"$gp"
    gnuplot "$gp" 2>>"$logs/gnuplot.err" || echo "compare.sh: gnuplot failed for $m (see $logs/gnuplot.err)" >&2
  done
  echo
  echo "Throughput over time (median round of each method): $plots/*.png"
fi
[ "$failed" = 0 ] || exit 1

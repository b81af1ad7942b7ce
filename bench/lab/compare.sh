#!/usr/bin/env bash
# Compares biternet with the other ways to pull one file over several links, in ONE run, on
# the same lab links (lab.sh) and the same random file:
#
#   biternet   biternet-get over every link (after a 1 MiB warm-up download, so server and
#              client have run before); wall time of the whole biternet-get process, JVM
#              start and biternet's per-piece SHA-256 checks included
#   aria2      aria2c --multiple-interface (one client address per link) from nginx
#              (sendfile on) in the server namespace: "-x N -s N -k 1M" for N links, and
#              "-x16 -s16 -k 1M"
#   mptcp      curl over Linux kernel MPTCP (mptcpize run curl / mptcpize run nginx), one
#              subflow endpoint per extra link, 16 MiB tcp_rmem/wmem for that run only
#   single     curl over the fastest link alone (curl --interface 198.18.F.2), plain nginx
#
# For each: the median over the rounds of wall seconds, goodput (file bits / wall), goodput
# over the sum of link rates, the SHA-256 check of the output file (computed after the timed
# run for aria2c and curl), and the bytes each client interface received on the wire
# (headers and retransmissions included), and the 1-minute load average before each run
# (the machine may be shared: a high one explains an outlier). Methods run interleaved within each round, so load
# drift on the machine hits all of them alike.
#
# Usage: bench/lab/compare.sh [--rates "40 20 10"] [--size-mib 128] [--rounds 3]
#                             [--only biternet,aria2,mptcp,single] [--keep]
# Needs root (network namespaces). Installs aria2, nginx-light, curl, mptcpd, iproute2,
# ethtool and jq with apt-get when missing. Work files, the random file and per-run logs go
# to a temporary directory on disk; it is printed and kept when something failed (or with
# --keep), removed otherwise. Everything started here is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lab="$here/lab.sh"

rates="40 20 10"
size_mib=128
rounds=3
only="biternet,aria2,mptcp,single"
keep=0

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "compare.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --rates) rates=${2:?}; shift 2 ;;
    --size-mib) size_mib=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

read -r -a rate_list <<<"$rates"
nlinks=${#rate_list[@]}
[ "$nlinks" -ge 1 ] || die "--rates needs at least one rate"
[ "$nlinks" -le 8 ] || die "at most 8 links (MPTCP's subflow limit is 8)"
for r in "${rate_list[@]}"; do [[ "$r" =~ ^[1-9][0-9]*$ ]] || die "rate '$r' is not a whole number of Mbit/s"; done
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] || die "--size-mib must be a positive whole number"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive whole number"
want() { [[ ",$only," == *",$1,"* ]]; }
for m in ${only//,/ }; do
  case "$m" in biternet|aria2|mptcp|single) ;; *) die "--only: unknown method '$m'" ;; esac
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
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "compare.sh: installing ${need_pkgs[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >&2
fi
if want biternet; then
  if ! ls "$repo"/netty-client/target/biternet-get.jar "$repo"/netty-server/target/biternet-serve.jar >/dev/null 2>&1; then
    echo "compare.sh: building biternet (./mvnw -q -B -o install -DskipTests)" >&2
    (cd "$repo" && ./mvnw -q -B -o install -DskipTests) >&2
  fi
fi

# ---- state and teardown --------------------------------------------------------------------
name="cmp$$"; name=${name:0:10}
work=$(mktemp -d /var/tmp/biternet-compare.XXXXXX)
logs="$work/logs"; root="$work/root"; out="$work/out"
mkdir -p "$logs" "$root" "$out"
chmod 755 "$work" "$root" # nginx workers run as an unprivileged user
pids=()
failed=0
lab_up=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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
echo "compare.sh: lab $name, rates ${rates} Mbit/s, ${size_mib} MiB, ${rounds} rounds, work dir $work" >&2
lab_up=1
"$lab" up "$name" "${rate_list[@]}" >"$logs/lab-up.log" 2>&1 || { cat "$logs/lab-up.log" >&2; failed=1; exit 1; }

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

if want biternet; then
  # Run a private copy of the launchers and jars: others may rebuild target/ during the run.
  snap="$work/biternet"
  mkdir -p "$snap/bin" "$snap/netty-client/target" "$snap/netty-server/target"
  cp "$repo/bin/biternet-get" "$repo/bin/biternet-serve" "$snap/bin/"
  cp "$repo/netty-client/target/biternet-get.jar" "$snap/netty-client/target/"
  cp "$repo/netty-server/target/biternet-serve.jar" "$snap/netty-server/target/"
  biternet_args=()
  for c in "${ifaces[@]}"; do biternet_args+=(--iface "$c"); done
  serve_starts=0
  start_biternet() { # the server, then a 1 MiB warm-up download through every link
    serve_starts=$((serve_starts + 1))
    local log="$logs/biternet-serve.$serve_starts.log"
    srv "$snap/bin/biternet-serve" --root "$root" --host 198.18.100.1 --port 7420 >"$log" 2>&1 &
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
  start_biternet
fi
if want aria2 || want single; then start_nginx 8080; fi
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
want aria2 && methods+=(aria2-x$nlinks aria2-x16)
want mptcp && methods+=(mptcp)
want single && methods+=(single)

results="$work/results.tsv" # method round wall ok rx-per-link extra
: >"$results"

measure() { # measure METHOD ROUND
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
  t0=$EPOCHREALTIME
  case "$m" in
    biternet)
      bg_wait cli timeout "$limit" "$snap/bin/biternet-get" --json "${biternet_args[@]}" -o "$file" \
        biternet://198.18.100.1:7420/data.bin >"$log.json" 2>"$log.err" || rc=$? ;;
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
  if [ "$m" = biternet ] && [ -s "$log.json" ]; then
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
links_desc=""
for i in $(seq 1 "$nlinks"); do links_desc+="${links_desc:+, }link $i ${rate_list[$((i - 1))]} Mbit/s"; done
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "# biternet vs aria2c vs MPTCP vs one link -- $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# $links_desc (sum $sum_rate Mbit/s); file ${size_mib} MiB random; median of $rounds rounds"
echo "# kernel $(uname -r), $(nproc) cores, load average at the start $load0, at the end $load"
want biternet && echo "# biternet source tree $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?'), jars built $(date -u -r "$repo/netty-client/target/biternet-get.jar" '+%Y-%m-%d %H:%M UTC')"
echo "# One TCP flow on a tbf link reaches at most ~0.957 of the rate (Ethernet+IP+TCP headers),"
echo "# so 0.957 in the /sum column is the physical ceiling. Wall = whole client process;"
echo "# biternet's includes JVM start and its per-piece SHA-256 checks, the others' do not"
echo "# (their output is hashed after the clock stops). rx = bytes on the wire per client link."
echo
printf '| %-10s | %8s | %13s | %7s | %6s | %6s | %-22s | %s |\n' method "wall s" "range s" Mbit/s "/sum" sha256 "rx MiB per link" "biternet, median round"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ---------: ---------------: --------: -------: -------- ------------------------ ---
for m in "${methods[@]}"; do
  awk -F'\t' -v m="$m" -v bytes="$bytes" -v sum="$sum_rate" -v rounds="$rounds" '
    $1 == m { all++; if ($4 != "ok") { bad++; next } n++; w[n] = $3; rx[n] = $5; ex[n] = $6 }
    END {
      if (all == 0) exit
      check = bad ? sprintf("FAIL %d/%d", bad, all) : "ok"
      if (n == 0) { printf "| %-10s | %8s | %13s | %7s | %6s | %-6s | %-22s | %s |\n", m, "-", "-", "-", "-", check, "-", "-"; exit }
      for (i = 1; i <= n; i++) idx[i] = i
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (w[idx[j]] < w[idx[i]]) { t = idx[i]; idx[i] = idx[j]; idx[j] = t }
      if (n % 2) med = w[idx[(n + 1) / 2]]; else med = (w[idx[n / 2]] + w[idx[n / 2 + 1]]) / 2
      mid = idx[int((n + 1) / 2)]
      mbit = bytes * 8 / med / 1e6
      printf "| %-10s | %8.2f | %6.2f-%6.2f | %7.1f | %6.3f | %-6s | %-22s | %s |\n", m, med, w[idx[1]], w[idx[n]], mbit, mbit / sum, check, rx[mid], ex[mid]
    }' "$results"
done
echo
echo "Per round (wall s, sha256, 1-min load average before the run, rx MiB per link, biternet details):"
awk -F'\t' '{ printf "  r%s %-10s %7.2f %-4s load %-5s %s  %s\n", $2, $1, $3, $4, $7, $5, ($6 == "-" ? "" : $6) }' "$results"
if [ -s "$work/events" ]; then echo; echo "Events:"; sed 's/^/  /' "$work/events"; fi
[ "$failed" = 0 ] || exit 1

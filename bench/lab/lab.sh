#!/usr/bin/env bash
# biternet network lab: a multi-homed client and a server with ONE service address, joined by
# N veth "uplinks", each shaped with tbf in both directions, with per-source policy routing
# in the client namespace -- the way a user with several ISPs has it. A link may also have a
# one-way delay, random loss and jitter: a delay line (delayline.c) in a middle namespace.
#
#   lab.sh up NAME LINK...           create namespaces NAME-srv and NAME-cli (and NAME-mid when
#                                    a link has a delay line), one link per LINK:
#       RATE                           RATE Mbit/s, a direct veth pair (no delay line)
#       RATE:DELAY[:LOSS[:QUEUE[:JITTER]]]
#                                      through the delay line: DELAY ms one way, LOSS % dropped
#                                      at random in each direction, a tbf queue of QUEUE ms
#                                      (default 50), JITTER ms added without reordering.
#                                      Units may be written: 50:250ms:1%:300ms. RATE:0 is a
#                                      delay line with no delay, so that 'wan' can add one later.
#   lab.sh wan NAME I DELAY_MS LOSS_PCT [JITTER_MS]
#                                    change link I's delay line, mid-run (frames received from
#                                    then on; nothing is reordered)
#   lab.sh rate NAME I RATE_MBIT     change link I's rate (both directions), mid-run
#   lab.sh cut NAME I                take link I down (client side)
#   lab.sh restore NAME I            bring link I back up
#   lab.sh addlink NAME I RATE       a new direct link I of RATE Mbit/s, mid-run (a new uplink)
#   lab.sh readdr NAME I HOST        move link I's client address to 198.18.I.HOST (rule, route too)
#   lab.sh origin NAME K RATE [QUEUE] another source K (1-9) behind the server namespace, in its
#                                    own namespace NAME-oK with its own uplink of RATE Mbit/s (tbf,
#                                    both ways, queue QUEUE ms, default 50): the server namespace
#                                    becomes the router between the client's links and the
#                                    origins, so two origins' uplinks are the bottleneck, the
#                                    client's links are shared by both (issue 19's several sources)
#   lab.sh cc NAME bbr|cubic|reno    TCP congestion control in the client, server and origin namespaces
#   lab.sh stats NAME                the delay lines' counters (frames, lost, overflow, ...)
#   lab.sh down NAME                 stop the delay lines, delete all three namespaces (idempotent)
#   lab.sh info NAME                 addresses, rules, qdiscs, delay lines
#
# Addresses (benchmarking range 198.18.0.0/15 only):
#   service address 198.18.100.1 (on the server's loopback)
#   link I (1-based): client NAME-cI 198.18.I.2/24  <->  server NAME-sI 198.18.I.1/24
#   client: "ip rule add from 198.18.I.2 table 100+I", default via 198.18.I.1 in that table;
#   the main table's default route goes over link 1.
#   origin K: NAME-oK 198.18.(200+K).2/24 on NAMEoK  <->  NAMEuK 198.18.(200+K).1/24 in NAME-srv
#   (forwarding on in NAME-srv once an origin exists).
# A delay-line link is NAMEcI <-> NAMEmcI (in NAME-mid), bridged at layer 2 to NAMEmsI <-> NAMEsI;
# addresses and routes are the same. Interface names are NAMEcI / NAMEsI / NAMEmcI, so NAME
# must be at most 10 characters. The delay line is built with gcc into bench/lab/.build/
# (rebuilt when delayline.c is newer); its state (config, pid, log) is in $LAB_STATE/NAME
# (default /run/biternet-lab). With any delay-line link, tcp_rmem/tcp_wmem maxima in the
# client and server namespaces are 64 MiB, enough for 50 Mbit/s at a 600 ms round trip
# plus a deep queue.
set -euo pipefail

SERVICE_ADDR=198.18.100.1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state_root=${LAB_STATE:-/run/biternet-lab}

die() { echo "lab.sh: $*" >&2; exit 1; }
srv() { ip netns exec "$1-srv" "${@:2}"; }
cli() { ip netns exec "$1-cli" "${@:2}"; }
mid() { ip netns exec "$1-mid" "${@:2}"; }

# tbf needs a bucket of at least one timer tick's worth of bytes; keep it small so the shaped
# link behaves like a bottleneck, not a burst. Its latency is the link's queue length.
shape() {
  local ns=$1 dev=$2 mbit=$3 queue_ms=${4:-50}
  local bytes_per_s=$((mbit * 125000))
  local burst=$((bytes_per_s / 250))
  [ "$burst" -lt 16000 ] && burst=16000
  ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${mbit}mbit" burst "$burst" latency "${queue_ms}ms"
}

# The delay line reads frames with AF_PACKET: offloads would hand it 64 KiB super-packets and
# frames with checksums still to be filled in (ping works, TCP does not). Off on every veth of
# a delay-line path; tso/gso/gro off on all of them so tbf shapes real frames.
offloads_off() { # NS DEV [tx]
  local what=(tso off gso off gro off)
  [ "${3:-}" = tx ] && what=(tx off "${what[@]}")
  ip netns exec "$1" ethtool -K "$2" "${what[@]}" >/dev/null 2>&1 ||
    { [ "${3:-}" = tx ] && die "ethtool -K $2 ${what[*]} failed (is ethtool installed?)"; true; }
}

delayline_bin() { # builds the delay line when missing or older than its source; prints its path
  local src="$here/delayline.c" dir="$here/.build" bin="$here/.build/delayline"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    command -v gcc >/dev/null || die "the delay line needs gcc (apt-get install gcc)"
    mkdir -p "$dir"
    local tmp; tmp=$(mktemp "$dir/delayline.XXXXXX")
    gcc -O2 -Wall -o "$tmp" "$src" || { rm -f "$tmp"; die "building $src failed"; }
    mv -f "$tmp" "$bin" # atomic: two labs starting at once never run a half-written binary
  fi
  echo "$bin"
}

num() { [[ "$2" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$1 '$2' is not a number"; echo "$2"; }

write_conf() { # NAME I RATE DELAY LOSS JITTER
  echo "rate_mbit=$3 delay_ms=$4 loss_pct=$5 jitter_ms=$6" >"$state_root/$1/link$2.conf.tmp"
  mv -f "$state_root/$1/link$2.conf.tmp" "$state_root/$1/link$2.conf"
}

start_delayline() { # NAME I
  local name=$1 i=$2 dir="$state_root/$1" bin
  bin=$(delayline_bin)
  ip netns exec "$name-mid" "$bin" "$dir/link$i.conf" "${name}mc$i" "${name}ms$i" </dev/null >>"$dir/link$i.log" 2>&1 &
  echo $! >"$dir/link$i.pid"
  for _ in $(seq 1 50); do
    grep -q 'slots per direction' "$dir/link$i.log" && return 0
    kill -0 "$(cat "$dir/link$i.pid")" 2>/dev/null || break
    sleep 0.1
  done
  die "link $i's delay line did not start: $(cat "$dir/link$i.log")"
}

delayline_pid() { # NAME I: the pid of link I's delay line, or nothing
  local f="$state_root/$1/link$2.pid" p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  # Only a delay line we started (pid files outlive reboots of /run only on odd systems).
  if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "delayline $state_root/$1/link$2.conf "; then echo "$p"; fi
}

# Link I's two ends, created: addresses, up, shaped, and the client's policy route for it.
wire() { # NAME I RATE QUEUE
  local name=$1 i=$2 rate=$3 queue=$4 c="${1}c$2" s="${1}s$2"
  cli "$name" ip addr add "198.18.$i.2/24" dev "$c"
  srv "$name" ip addr add "198.18.$i.1/24" dev "$s"
  cli "$name" ip link set "$c" up
  srv "$name" ip link set "$s" up
  shape "$name-srv" "$s" "$rate" "$queue"
  shape "$name-cli" "$c" "$rate" "$queue"
  cli "$name" ip route add default via "198.18.$i.1" dev "$c" table $((100 + i))
  cli "$name" ip rule add from "198.18.$i.2" table $((100 + i)) priority $((1000 + i))
  if [ "$i" = 1 ]; then
    cli "$name" ip route add default via 198.18.1.1 dev "$c"
  fi
}

# A new direct link I of RATE Mbit/s on a running lab: a new uplink appearing mid-download.
addlink() {
  local name=$1 i=$2 rate=$3
  [ -e "/run/netns/$name-cli" ] || die "no lab $name"
  echo 50 >"$state_root/$name/link$i.queue"
  ip link add "${name}c$i" netns "$name-cli" type veth peer name "${name}s$i" netns "$name-srv"
  offloads_off "$name-cli" "${name}c$i"
  offloads_off "$name-srv" "${name}s$i"
  wire "$name" "$i" "$rate" 50
}

up() {
  local name=$1; shift
  [ ${#name} -le 10 ] || die "NAME must be at most 10 characters"
  [ $# -ge 1 ] || die "give at least one link: RATE_MBIT or RATE:DELAY_MS[:LOSS_PCT[:QUEUE_MS[:JITTER_MS]]]"
  # Parse every link before creating anything.
  local specs=() spec i=0 any_wan=0
  for spec in "$@"; do
    i=$((i + 1))
    local f; IFS=: read -r -a f <<<"$spec"
    [ ${#f[@]} -le 5 ] || die "link $i '$spec': at most RATE:DELAY:LOSS:QUEUE:JITTER"
    [[ "${f[0]}" =~ ^[1-9][0-9]*$ ]] || die "link $i '$spec': RATE must be a whole number of Mbit/s"
    local rate=${f[0]} wan=0 delay=0 loss=0 queue=50 jitter=0
    if [ ${#f[@]} -ge 2 ]; then
      wan=1; any_wan=1
      delay=$(num "link $i delay" "${f[1]%ms}")
      [ ${#f[@]} -ge 3 ] && loss=$(num "link $i loss" "${f[2]%\%}")
      [ ${#f[@]} -ge 4 ] && queue=$(num "link $i queue" "${f[3]%ms}")
      [ ${#f[@]} -ge 5 ] && jitter=$(num "link $i jitter" "${f[4]%ms}")
      awk -v l="$loss" 'BEGIN{exit !(l <= 100)}' || die "link $i: loss must be at most 100 %"
    fi
    [[ "${f[3]:-50}" =~ ^[0-9]+(ms)?$ ]] || die "link $i '$spec': QUEUE must be whole milliseconds"
    specs+=("$rate $wan $delay $loss ${queue%ms} $jitter")
  done
  mkdir -p "$state_root/$name"
  ip netns add "$name-srv"
  ip netns add "$name-cli"
  srv "$name" ip link set lo up
  cli "$name" ip link set lo up
  srv "$name" ip addr add "$SERVICE_ADDR/32" dev lo
  srv "$name" sysctl -qw net.ipv4.ip_forward=0
  if [ "$any_wan" = 1 ]; then
    ip netns add "$name-mid"
    # The middle is a wire, not a host: no addresses, no IPv6 chatter of its own.
    mid "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    mid "$name" ip link set lo up
    for ns in "$name-cli" "$name-srv"; do
      ip netns exec "$ns" sysctl -qw net.ipv4.tcp_rmem="4096 131072 67108864" net.ipv4.tcp_wmem="4096 16384 67108864"
    done
  fi
  i=0
  for spec in "${specs[@]}"; do
    i=$((i + 1))
    local rate wan delay loss queue jitter
    read -r rate wan delay loss queue jitter <<<"$spec"
    local c="${name}c$i" s="${name}s$i"
    echo "$queue" >"$state_root/$name/link$i.queue"
    if [ "$wan" = 1 ]; then
      local mc="${name}mc$i" ms="${name}ms$i"
      ip link add "$c" netns "$name-cli" type veth peer name "$mc" netns "$name-mid"
      ip link add "$ms" netns "$name-mid" type veth peer name "$s" netns "$name-srv"
      for d in "$mc" "$ms"; do mid "$name" ip link set "$d" up; offloads_off "$name-mid" "$d" tx; done
      offloads_off "$name-cli" "$c" tx
      offloads_off "$name-srv" "$s" tx
      write_conf "$name" "$i" "$rate" "$delay" "$loss" "$jitter"
      start_delayline "$name" "$i"
    else
      ip link add "$c" netns "$name-cli" type veth peer name "$s" netns "$name-srv"
      offloads_off "$name-cli" "$c"
      offloads_off "$name-srv" "$s"
    fi
    wire "$name" "$i" "$rate" "$queue"
  done
  # Loose reverse-path filtering: replies for link I arrive on link I, but be explicit.
  cli "$name" sysctl -qw net.ipv4.conf.all.rp_filter=0
  srv "$name" sysctl -qw net.ipv4.conf.all.rp_filter=0
}

wan() {
  local name=$1 i=$2 delay loss jitter=0 rate pid
  [ $# -ge 4 ] || die "usage: lab.sh wan NAME I DELAY_MS LOSS_PCT [JITTER_MS]"
  delay=$(num delay "${3%ms}"); loss=$(num loss "${4%\%}")
  [ $# -ge 5 ] && jitter=$(num jitter "${5%ms}")
  pid=$(delayline_pid "$name" "$i")
  [ -n "$pid" ] || die "link $i of $name has no delay line (create it as RATE:DELAY_MS, e.g. 50:0)"
  rate=$(sed -n 's/.*rate_mbit=\([0-9.]*\).*/\1/p' "$state_root/$name/link$i.conf")
  write_conf "$name" "$i" "$rate" "$delay" "$loss" "$jitter"
  kill -HUP "$pid"
}

# Changing a tbf in place ('tc qdisc replace' on a loaded tbf) left it stuck with a backlog on
# this kernel (6.18): the link went dead instead of slower. Delete and add it anew; the few
# packets queued in it are lost and TCP recovers them like any drop.
reshape() {
  local ns=$1 dev=$2 mbit=$3 queue=$4
  ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
  shape "$ns" "$dev" "$mbit" "$queue"
}
rate() {
  local name=$1 i=$2 mbit=$3 queue=50 pid
  [ -f "$state_root/$name/link$i.queue" ] && queue=$(cat "$state_root/$name/link$i.queue")
  reshape "$name-srv" "${name}s$i" "$mbit" "$queue"
  reshape "$name-cli" "${name}c$i" "$mbit" "$queue"
  pid=$(delayline_pid "$name" "$i")
  if [ -n "$pid" ]; then # the delay line sizes its hold queue from the rate
    sed -i "s/rate_mbit=[0-9.]*/rate_mbit=$mbit/" "$state_root/$name/link$i.conf"
    kill -HUP "$pid"
  fi
}
# Source K behind the server namespace: its own namespace and uplink (see the usage above).
origin() {
  local name=$1 k=$2 rate=$3 queue=${4:-50} o="$1-o$2" u="${1}u$2" v="${1}o$2"
  [ -e "/run/netns/$name-srv" ] || die "no lab $name"
  [[ "$k" =~ ^[1-9]$ ]] || die "origin K must be 1-9"
  [[ "$rate" =~ ^[1-9][0-9]*$ ]] || die "origin $k: RATE must be a whole number of Mbit/s"
  [[ "$queue" =~ ^[0-9]+$ ]] || die "origin $k: QUEUE must be whole milliseconds"
  [ -e "/run/netns/$o" ] && die "origin $k of $name exists"
  ip netns add "$o"
  ip netns exec "$o" ip link set lo up
  ip link add "$u" netns "$name-srv" type veth peer name "$v" netns "$o"
  offloads_off "$name-srv" "$u"
  offloads_off "$o" "$v"
  srv "$name" ip addr add "198.18.$((200 + k)).1/24" dev "$u"
  ip netns exec "$o" ip addr add "198.18.$((200 + k)).2/24" dev "$v"
  srv "$name" ip link set "$u" up
  ip netns exec "$o" ip link set "$v" up
  ip netns exec "$o" ip route add default via "198.18.$((200 + k)).1"
  shape "$o" "$v" "$rate" "$queue"
  shape "$name-srv" "$u" "$rate" "$queue"
  srv "$name" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$o" sysctl -qw net.ipv4.conf.all.rp_filter=0
  # The same TCP buffers and congestion control as the server namespace's.
  local v1
  for v1 in net.ipv4.tcp_rmem net.ipv4.tcp_wmem net.ipv4.tcp_congestion_control; do
    ip netns exec "$o" sysctl -qw "$v1=$(srv "$name" sysctl -n "$v1" | tr -s '\t ' ' ')"
  done
}
origins() { # the lab's origin namespaces
  local f
  for f in /run/netns/"$1"-o[1-9]; do [ -e "$f" ] && echo "${f##*/}"; done
  true
}
cut() { cli "$1" ip link set "${1}c$2" down; }
restore() {
  local name=$1 i=$2
  cli "$name" ip link set "${name}c$i" up
  cli "$name" ip route replace default via "198.18.$i.1" dev "${name}c$i" table $((100 + i))
  if [ "$i" = 1 ]; then cli "$name" ip route replace default via 198.18.1.1 dev "${name}c1"; fi
}
# Gives link I's client end another address, 198.18.I.HOST, as DHCP handing out a new lease
# would: the old address goes (and with it its routes), the new one comes, the link's policy
# rule and route follow.
readdr() {
  local name=$1 i=$2 host=$3 dev old
  dev="${name}c$i"
  old=$(cli "$name" ip -o -4 addr show dev "$dev" | awk '{print $4}' | head -n1)
  [ -n "$old" ] && cli "$name" ip addr del "$old" dev "$dev"
  [ -n "$old" ] && cli "$name" ip rule del from "${old%/*}" table $((100 + i)) 2>/dev/null || true
  cli "$name" ip addr add "198.18.$i.$host/24" dev "$dev"
  cli "$name" ip rule add from "198.18.$i.$host" table $((100 + i))
  cli "$name" ip route replace default via "198.18.$i.1" dev "$dev" table $((100 + i))
  if [ "$i" = 1 ]; then cli "$name" ip route replace default via 198.18.1.1 dev "$dev"; fi
}
cc() {
  local name=$1 algo=$2 ns allowed
  [[ " $(sysctl -n net.ipv4.tcp_available_congestion_control) " == *" $algo "* ]] ||
    modprobe "tcp_$algo" 2>/dev/null ||
    die "congestion control '$algo' is not available here (have: $(sysctl -n net.ipv4.tcp_available_congestion_control))"
  # A namespace other than the host's may only pick an algorithm on the host's allowed list
  # (EPERM otherwise); adding one there only lets more sockets choose it.
  allowed=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
  if [[ " $allowed " != *" $algo "* ]]; then
    echo "lab.sh: adding $algo to the host's net.ipv4.tcp_allowed_congestion_control ($allowed)" >&2
    sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed $algo"
  fi
  for ns in "$name-cli" "$name-srv" $(origins "$name"); do
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="$algo"
  done
}
stats() {
  local name=$1 f i pid
  for f in "$state_root/$name"/link*.pid; do
    [ -e "$f" ] || continue
    i=${f##*/link}; i=${i%.pid}
    pid=$(delayline_pid "$name" "$i")
    [ -n "$pid" ] || continue
    local n; n=$(wc -l <"$state_root/$name/link$i.log")
    kill -USR1 "$pid"
    for _ in $(seq 1 20); do [ "$(wc -l <"$state_root/$name/link$i.log")" -ge $((n + 2)) ] && break; sleep 0.05; done
    echo "link $i: $(cat "$state_root/$name/link$i.conf")"
    tail -n +$((n + 1)) "$state_root/$name/link$i.log" | sed 's/^/  /'
  done
}
down() {
  local name=$1 f i pid
  [ ${#name} -le 10 ] || die "NAME must be at most 10 characters"
  for f in "$state_root/$name"/link*.pid; do
    [ -e "$f" ] || continue
    i=${f##*/link}; i=${i%.pid}
    pid=$(delayline_pid "$name" "$i")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # Anything else still in the middle namespace was started by this script.
  for pid in $(ip netns pids "$name-mid" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$name-cli" 2>/dev/null || true
  ip netns del "$name-srv" 2>/dev/null || true
  ip netns del "$name-mid" 2>/dev/null || true
  for ns in $(origins "$name"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "${state_root:?}/$name"
}
info() {
  local name=$1
  echo "== client $name-cli"; cli "$name" ip -br addr; cli "$name" ip rule; cli "$name" tc qdisc show
  echo "== server $name-srv"; srv "$name" ip -br addr; srv "$name" tc qdisc show
  if [ -e "/run/netns/$name-mid" ]; then echo "== delay lines $name-mid"; stats "$name"; fi
  local o
  for o in $(origins "$name"); do echo "== origin $o"; ip netns exec "$o" ip -br addr; ip netns exec "$o" tc qdisc show; done
}

cmd=${1:-}; shift || true
case "$cmd" in
  up|addlink|origin|wan|rate|cut|restore|readdr|cc|stats|down|info) "$cmd" "$@" ;;
  *) sed -n '2,48p' "$0"; exit 2 ;;
esac

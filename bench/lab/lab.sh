#!/usr/bin/env bash
# biternet network lab: a multi-homed client and a server with ONE service address, joined by
# N veth "uplinks", each shaped with tbf in both directions, with per-source policy routing
# in the client namespace -- the way a user with several ISPs has it.
#
#   lab.sh up NAME RATE_MBIT...      create namespaces NAME-srv and NAME-cli, one link per rate
#   lab.sh rate NAME I RATE_MBIT     change link I's rate (both directions), mid-run
#   lab.sh cut NAME I                take link I down (client side)
#   lab.sh restore NAME I            bring link I back up
#   lab.sh down NAME                 delete everything NAME created (idempotent)
#   lab.sh info NAME                 addresses, rules, qdiscs
#
# Addresses (benchmarking range 198.18.0.0/15 only):
#   service address 198.18.100.1 (on the server's loopback)
#   link I (1-based): client NAME-cI 198.18.I.2/24  <->  server NAME-sI 198.18.I.1/24
#   client: "ip rule add from 198.18.I.2 table 100+I", default via 198.18.I.1 in that table;
#   the main table's default route goes over link 1.
# Interface names are NAMEcI / NAMEsI, so NAME must be at most 10 characters.
set -euo pipefail

SERVICE_ADDR=198.18.100.1

die() { echo "lab.sh: $*" >&2; exit 1; }
srv() { ip netns exec "$1-srv" "${@:2}"; }
cli() { ip netns exec "$1-cli" "${@:2}"; }

# tbf needs a bucket of at least one timer tick's worth of bytes; keep it small so the shaped
# link behaves like a bottleneck, not a burst, and queue at most ~50 ms of data.
shape() {
  local ns=$1 dev=$2 mbit=$3
  local bytes_per_s=$((mbit * 125000))
  local burst=$((bytes_per_s / 250))
  [ "$burst" -lt 16000 ] && burst=16000
  ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${mbit}mbit" burst "$burst" latency 50ms
}

up() {
  local name=$1; shift
  [ ${#name} -le 10 ] || die "NAME must be at most 10 characters"
  [ $# -ge 1 ] || die "give at least one link rate in Mbit/s"
  ip netns add "$name-srv"
  ip netns add "$name-cli"
  srv "$name" ip link set lo up
  cli "$name" ip link set lo up
  srv "$name" ip addr add "$SERVICE_ADDR/32" dev lo
  srv "$name" sysctl -qw net.ipv4.ip_forward=0
  local i=0
  for mbit in "$@"; do
    i=$((i + 1))
    local c="${name}c$i" s="${name}s$i"
    ip link add "$c" netns "$name-cli" type veth peer name "$s" netns "$name-srv"
    cli "$name" ip addr add "198.18.$i.2/24" dev "$c"
    srv "$name" ip addr add "198.18.$i.1/24" dev "$s"
    cli "$name" ip link set "$c" up
    srv "$name" ip link set "$s" up
    # veth offloads would hand tbf 64 KiB super-packets; shape real frames.
    cli "$name" ethtool -K "$c" tso off gso off gro off >/dev/null 2>&1 || true
    srv "$name" ethtool -K "$s" tso off gso off gro off >/dev/null 2>&1 || true
    shape "$name-srv" "$s" "$mbit"
    shape "$name-cli" "$c" "$mbit"
    cli "$name" ip route add default via "198.18.$i.1" dev "$c" table $((100 + i))
    cli "$name" ip rule add from "198.18.$i.2" table $((100 + i)) priority $((1000 + i))
    if [ "$i" = 1 ]; then
      cli "$name" ip route add default via 198.18.1.1 dev "$c"
    fi
  done
  # Loose reverse-path filtering: replies for link I arrive on link I, but be explicit.
  cli "$name" sysctl -qw net.ipv4.conf.all.rp_filter=0
  srv "$name" sysctl -qw net.ipv4.conf.all.rp_filter=0
}

# Changing a tbf in place ('tc qdisc replace' on a loaded tbf) left it stuck with a backlog on
# this kernel (6.18): the link went dead instead of slower. Delete and add it anew; the few
# packets queued in it are lost and TCP recovers them like any drop.
reshape() {
  local ns=$1 dev=$2 mbit=$3
  ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null || true
  shape "$ns" "$dev" "$mbit"
}
rate() { local name=$1 i=$2 mbit=$3; reshape "$name-srv" "${name}s$i" "$mbit"; reshape "$name-cli" "${name}c$i" "$mbit"; }
cut() { cli "$1" ip link set "${1}c$2" down; }
restore() {
  local name=$1 i=$2
  cli "$name" ip link set "${name}c$i" up
  cli "$name" ip route replace default via "198.18.$i.1" dev "${name}c$i" table $((100 + i))
  if [ "$i" = 1 ]; then cli "$name" ip route replace default via 198.18.1.1 dev "${name}c1"; fi
}
down() {
  local name=$1
  ip netns del "$name-cli" 2>/dev/null || true
  ip netns del "$name-srv" 2>/dev/null || true
}
info() {
  local name=$1
  echo "== client $name-cli"; cli "$name" ip -br addr; cli "$name" ip rule; cli "$name" tc qdisc show
  echo "== server $name-srv"; srv "$name" ip -br addr; srv "$name" tc qdisc show
}

cmd=${1:-}; shift || true
case "$cmd" in
  up|rate|cut|restore|down|info) "$cmd" "$@" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac

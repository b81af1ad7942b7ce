#!/usr/bin/env bash
# Several sources for one file (issue 19), in ONE run: two origins, each behind its own shaped
# uplink (the bottleneck at the sources), one client with several links (lab.sh up + lab.sh
# origin). Origin K runs biternet-serve (port 7420) and nginx (port 8080) on 198.18.(200+K).2,
# both serving the same random file.
#
#   alone  "the origins alone": one curl from each origin's nginx over link 1, one after the
#          other, the whole file; the sum of their goodputs is the ceiling of any mix
#   b1 b2  biternet-get over every link from biternet-serve on origin 1 (2) alone
#   bb     biternet-get from both servers (biternet://O1/... --mirror biternet://O2/...)
#   h1 h2  biternet-get over every link from origin 1's (2's) nginx alone
#   hh     biternet-get from both nginx (http://O1/... --mirror http://O2/...)
#   bh     biternet-get from origin 1's server and origin 2's nginx (mixed sources)
#   aria2  aria2c with both nginx URLs, --multiple-interface over every link, -x16 -s16
#
# Each round runs the methods interleaved; whole processes (biternet-get's JVM start included).
# Report: median wall seconds, goodput, goodput over the origins alone (median of per-round
# ratios), for bb / hh / bh also over the sum of the two single-source runs of the same round
# (b1 + b2, h1 + h2, b1 + h2: "the sum of what each source alone delivers"), duplicate bytes
# over the file, and the payload each source delivered.
#
# Usage: bench/lab/sources.sh [--links "100 100"] [--origins "30 20"] [--size-mib 64]
#                             [--rounds 3] [--cc bbr|cubic] [--only alone,b1,b2,bb,h1,h2,hh,aria2]
#                             [--link-opts "cap=40M ..."] [--kill-at SECONDS] [--keep]
#   --links      the client's links, lab.sh specs (RATE or RATE:DELAY[:LOSS[:QUEUE]])
#   --origins    two origin uplinks, Mbit/s each
#   --link-opts  biternet-get's options for each link in turn (--iface NAME:OPTS; "-" for none),
#                for every biternet-get method; the report then gives each link's bytes and
#                whether it held its cap
#   --kill-at    in bb, hh and bh, origin 2's source (its server, or its nginx) is killed this
#                many seconds into the download and started again after it: the rest must finish
# Needs root, the built jars (./mvnw -q -B -o package -DskipTests), nginx, curl, aria2c, jq
# (installed with apt-get when missing). Everything started here is stopped on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
lab="$here/lab.sh"
links="100 100"
origin_rates="30 20"
size_mib=64
rounds=3
cc=""
only="alone,b1,b2,bb,h1,h2,hh,aria2"
link_opts=""
kill_at=""
keep=0
die() { echo "sources.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --links) links=${2:?}; shift 2 ;;
    --origins) origin_rates=${2:?}; shift 2 ;;
    --size-mib) size_mib=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --cc) cc=${2:?}; shift 2 ;;
    --only) only=${2:?}; shift 2 ;;
    --link-opts) link_opts=${2:?}; shift 2 ;;
    --kill-at) kill_at=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
read -r -a link_specs <<<"$links"
read -r -a orates <<<"$origin_rates"
[ ${#orates[@]} = 2 ] || die "--origins takes two rates"
[[ "$size_mib" =~ ^[1-9][0-9]*$ ]] || die "--size-mib must be a positive whole number"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive whole number"
[ -z "$kill_at" ] || [[ "$kill_at" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--kill-at takes seconds"
read -r -a lopts <<<"$link_opts"
[ ${#lopts[@]} = 0 ] || [ ${#lopts[@]} = ${#link_specs[@]} ] || die "--link-opts takes one entry per link (\"-\" for none)"
for m in ${only//,/ }; do
  case "$m" in alone|b1|b2|bb|h1|h2|hh|bh|aria2) ;; *) die "--only: unknown method '$m'" ;; esac
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
command -v aria2c >/dev/null || need+=(aria2)
command -v jq >/dev/null || need+=(jq)
command -v ethtool >/dev/null || need+=(ethtool)
[[ "$links" == *:* ]] && ! command -v gcc >/dev/null && need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi
ls "$repo"/netty-client/target/biternet-get.jar "$repo"/netty-server/target/biternet-serve.jar >/dev/null 2>&1 ||
  die "build the jars first: ./mvnw -q -B -o package -DskipTests"

name="src$$"; name=${name:0:10}
work=$(mktemp -d /var/tmp/biternet-sources.XXXXXX)
logs="$work/logs"; root="$work/root"; out="$work/out"; snap="$work/biternet"
mkdir -p "$logs" "$root" "$out" "$snap/bin" "$snap/netty-client/target" "$snap/netty-server/target"
chmod 755 "$work" "$root"
failed=0; lab_up=0; pids=()
cleanup() {
  local rc=$? ns p
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "$lab_up" = 1 ]; then
    for ns in "$name-cli" "$name-srv" "$name-o1" "$name-o2"; do
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    done
    "$lab" down "$name" || true
  fi
  if [ "$rc" != 0 ] || [ "$failed" != 0 ] || [ "$keep" = 1 ]; then
    rm -f "$root"/*.bin "$out"/* 2>/dev/null || true
    echo "sources.sh: logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cli() { ip netns exec "$name-cli" "$@"; }
org() { local k=$1; shift; ip netns exec "$name-o$k" "$@"; }
bg_wait() { "$@" & local p=$!; wait "$p"; }
addr() { echo "198.18.$((200 + $1)).2"; }

# ---- lab, file, sources --------------------------------------------------------------------
lab_up=1
"$lab" up "$name" "${link_specs[@]}" >"$logs/lab.log" 2>&1 || { cat "$logs/lab.log" >&2; failed=1; exit 1; }
"$lab" origin "$name" 1 "${orates[0]}" && "$lab" origin "$name" 2 "${orates[1]}" || { failed=1; exit 1; }
[ -n "$cc" ] && "$lab" cc "$name" "$cc"
cc_used=$(cli sysctl -n net.ipv4.tcp_congestion_control)
bytes=$((size_mib * 1048576))
head -c "$bytes" /dev/urandom >"$root/data.bin"
head -c 1048576 /dev/urandom >"$root/warmup.bin"
want_sha=$(sha256sum "$root/data.bin" | cut -d' ' -f1)
cp "$repo/bin/biternet-get" "$repo/bin/biternet-serve" "$snap/bin/"
cp "$repo/netty-client/target/biternet-get.jar" "$snap/netty-client/target/"
cp "$repo/netty-server/target/biternet-serve.jar" "$snap/netty-server/target/"
ifaces=(); addrs=(); caps=()
for i in $(seq 1 ${#link_specs[@]}); do
  o=${lopts[$((i - 1))]:--}
  if [ "$o" = - ]; then ifaces+=(--iface "${name}c$i"); else ifaces+=(--iface "${name}c$i:$o"); fi
  addrs+=("198.18.$i.2")
  c=$(sed -n 's/.*cap=\([0-9]*\)\([kKMG]\{0,1\}i\{0,1\}\).*/\1 \2/p' <<<"$o")
  if [ -n "$c" ]; then # biternet-get's sizes: k M G are SI, Ki Mi Gi binary
    set -- $c
    case "${2:-}" in
      k|K) m=1000 ;; M) m=1000000 ;; G) m=1000000000 ;; Ki) m=1024 ;; Mi) m=1048576 ;; Gi) m=1073741824 ;; *) m=1 ;;
    esac
    caps+=($(($1 * m)))
  else
    caps+=(0)
  fi
done
slowest=$(( ${orates[0]} < ${orates[1]} ? ${orates[0]} : ${orates[1]} ))
limit=$((bytes * 8 * 3 / (slowest * 1000000) + 60))

start_serve() { # start_serve K: origin K's biternet-serve, waited for
  local a; a=$(addr "$1")
  org "$1" "$snap/bin/biternet-serve" --root "$root" --host "$a" --port 7420 --hash-cache none >>"$logs/serve$1.log" 2>&1 &
  pids+=($!)
  local n
  for _ in $(seq 150); do
    n=$(grep -c " port 7420 " "$logs/serve$1.log" 2>/dev/null || true)
    [ "${n:-0}" -ge "${2:-1}" ] && break; sleep 0.1
  done
}
start_nginx() { # start_nginx K: origin K's nginx
  org "$1" nginx -e "$logs/nginx$1.err" -p "$work/nginx$1" -c "$work/nginx$1/nginx.conf" >>"$logs/nginx$1.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do org "$1" curl -sf -o /dev/null "http://$(addr "$1"):8080/warmup.bin" 2>/dev/null && break; sleep 0.1; done
}
kill_origin2() { # kill_origin2 COMMAND: every such process of origin 2 (nginx: its master and worker)
  local p
  for p in $(ip netns pids "$name-o2"); do
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = "$1" ] && kill -9 "$p" 2>/dev/null || true
  done
}
for k in 1 2; do
  a=$(addr "$k")
  mkdir -p "$work/nginx$k"
  cat >"$work/nginx$k/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx$k/nginx.pid;
error_log $logs/nginx$k.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx$k/body;
  sendfile on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  server { listen $a:8080; root $root; }
}
EOF
  start_nginx "$k"
  start_serve "$k"
done
serve_starts=1
for k in 1 2; do # both up, and the JVMs warmed as in compare.sh
  cli "$snap/bin/biternet-get" --json "${ifaces[@]}" -o "$out/w.bin" "biternet://$(addr "$k"):7420/warmup.bin" >/dev/null 2>"$logs/warm$k.err" ||
    { cat "$logs/serve$k.log" "$logs/warm$k.err" >&2; failed=1; exit 1; }
  cli curl -sf -o /dev/null "http://$(addr "$k"):8080/warmup.bin" || { cat "$logs/nginx$k.err" >&2; failed=1; exit 1; }
  # An http:// download too: the launcher's class-data archive covers a kind of source once a
  # download of that kind has run (the first one pays the archive's dump, ~3 s, in its wall time).
  rm -f "$out/w.bin"
  cli "$snap/bin/biternet-get" --json "${ifaces[@]}" -o "$out/w.bin" "http://$(addr "$k"):8080/warmup.bin" >/dev/null 2>"$logs/warmh$k.err" ||
    { cat "$logs/nginx$k.err" "$logs/warmh$k.err" >&2; failed=1; exit 1; }
  rm -f "$out/w.bin"
done

# ---- runs ----------------------------------------------------------------------------------
results="$work/results.tsv" # method round wall ok dup-bytes per-source-bytes
: >"$results"
run() { # run METHOD ROUND
  local m=$1 r=$2 f="$out/data.bin" log="$logs/$1.r$2" rc=0 t0 t1 ok dup="-" per="-" wall
  rm -f "$f" "$f.part" "$f.aria2"
  for ns in "$name-cli" "$name-o1" "$name-o2"; do ip netns exec "$ns" ip tcp_metrics flush all 2>/dev/null || true; done
  local b1="biternet://$(addr 1):7420/data.bin" b2="biternet://$(addr 2):7420/data.bin"
  local h1="http://$(addr 1):8080/data.bin" h2="http://$(addr 2):8080/data.bin"
  local get=(timeout "$limit" "$snap/bin/biternet-get" --json "${ifaces[@]}" -o "$f")
  local killer=""
  if [ -n "$kill_at" ]; then
    case "$m" in
      bb) (sleep "$kill_at"; kill_origin2 java) & killer=$! ;;
      hh|bh) (sleep "$kill_at"; kill_origin2 nginx) & killer=$! ;;
    esac
  fi
  t0=$EPOCHREALTIME
  case "$m" in
    b1) bg_wait cli "${get[@]}" "$b1" ;;
    b2) bg_wait cli "${get[@]}" "$b2" ;;
    bb) bg_wait cli "${get[@]}" "$b1" --mirror "$b2" ;;
    h1) bg_wait cli "${get[@]}" "$h1" ;;
    h2) bg_wait cli "${get[@]}" "$h2" ;;
    hh) bg_wait cli "${get[@]}" "$h1" --mirror "$h2" ;;
    bh) bg_wait cli "${get[@]}" "$b1" --mirror "$h2" ;;
    aria2)
      bg_wait cli timeout "$limit" aria2c --no-conf=true --multiple-interface="$(IFS=,; echo "${addrs[*]}")" \
        -x16 -s16 -k 1M --file-allocation=none --summary-interval=0 --console-log-level=warn \
        --allow-overwrite=true --auto-file-renaming=false --max-tries=1 --disable-ipv6=true \
        -d "$out" -o data.bin "$h1" "$h2" ;;
  esac >"$log.json" 2>"$log.err" || rc=$?
  t1=$EPOCHREALTIME
  if [ -n "$killer" ]; then # origin 2 back for the next method
    wait "$killer" 2>/dev/null || true
    case "$m" in
      bb) serve_starts=$((serve_starts + 1)); start_serve 2 "$serve_starts" ;;
      *) start_nginx 2 ;;
    esac
  fi
  if [ "$rc" = 0 ] && [ "$(sha256sum "$f" 2>/dev/null | cut -d' ' -f1)" = "$want_sha" ]; then ok=ok; else ok=FAIL; failed=1; fi
  if [ "$m" != aria2 ] && [ -s "$log.json" ]; then
    dup=$(jq -r '.duplicate_bytes // "-"' "$log.json" 2>/dev/null || echo -)
    per=$(jq -r '[.links | group_by(.source)[] | "\(.[0].source | if . == "" then "server" else . end)=\(map(.bytes) | add / 1048576 * 10 | round / 10)"] | join(" ")' "$log.json" 2>/dev/null || echo -)
    if [ ${#lopts[@]} -gt 0 ]; then # each link's payload over every source, against its cap
      local i lb held=""
      for i in $(seq 1 ${#link_specs[@]}); do
        lb=$(jq -r --arg n "${name}c$i" '[.links[] | select(.iface == $n) | .bytes] | add // 0' "$log.json" 2>/dev/null || echo 0)
        held+="${held:+/}$(awk -v b="$lb" 'BEGIN{printf "%.1f", b / 1048576}')"
        if [ "${caps[$((i - 1))]}" != 0 ] && [ "$lb" -gt "${caps[$((i - 1))]}" ]; then held+="(OVER CAP)"; ok=FAIL; failed=1; fi
      done
      per+="; per link $held"
    fi
  fi
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$r" "$wall" "$ok" "$dup" "$per" >>"$results"
  printf '  round %d %-5s %7.2f s %-4s load %s dup %s  MiB per source: %s\n' "$r" "$m" "$wall" "$ok" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$dup" "$per" >&2
  rm -f "$f"
}
alone() { # alone ROUND: one curl per origin over link 1; records the summed goodput (Mbit/s)
  local r=$1 k line sum=0 each=""
  for k in 1 2; do
    for ns in "$name-cli" "$name-o$k"; do ip netns exec "$ns" ip tcp_metrics flush all 2>/dev/null || true; done
    line=$(bg_wait cli curl -sS --interface 198.18.1.2 -o /dev/null -w '%{size_download} %{time_total}' "http://$(addr "$k"):8080/data.bin")
    local mbit; mbit=$(awk -v l="$line" 'BEGIN{split(l, a, " "); printf "%.2f", a[1] * 8 / a[2] / 1e6}')
    each+="${each:+/}$mbit"; sum=$(awk -v a="$sum" -v b="$mbit" 'BEGIN{printf "%.2f", a + b}')
  done
  printf 'alone\t%s\t%s\tok\t-\t%s\n' "$r" "$sum" "$each" >>"$results"
  printf '  round %d alone %7.1f Mbit/s (%s)\n' "$r" "$sum" "$each" >&2
}
methods=()
for m in alone b1 b2 bb h1 h2 hh bh aria2; do [[ ",$only," == *",$m,"* ]] && methods+=("$m"); done
echo "sources.sh: lab $name, links $links, origins ${orates[*]} Mbit/s, $size_mib MiB, $rounds rounds, cc $cc_used" >&2
for r in $(seq 1 "$rounds"); do
  for m in "${methods[@]}"; do if [ "$m" = alone ]; then alone "$r"; else run "$m" "$r"; fi; done
done

# ---- report --------------------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
val() { awk -F'\t' -v m="$1" -v r="$2" '$1 == m && $2 == r && $4 == "ok" { print $3 }' "$results"; }
goodput() { awk -v b="$bytes" -v w="$1" 'BEGIN{ if (w > 0) printf "%.3f", b * 8 / w / 1e6 }'; } # Mbit/s of a wall time
echo
echo "# several sources -- $(date -u '+%Y-%m-%d %H:%M UTC'); client links $links; origins ${orates[*]} Mbit/s; ${size_mib} MiB; $rounds rounds; $cc_used"
echo "# biternet $(git -C "$repo" describe --always --dirty 2>/dev/null), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| method | wall s (median) | Mbit/s | / origins alone | / its sources alone | dup / file | MiB per source (median round) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
for m in "${methods[@]}"; do
  [ "$m" = alone ] && continue
  w=$(for r in $(seq 1 "$rounds"); do val "$m" "$r"; done | median)
  bad=$(awk -F'\t' -v m="$m" '$1 == m && $4 != "ok"' "$results" | wc -l)
  [ -n "$w" ] || { echo "| $m | FAIL x$bad | | | | | |"; continue; }
  vs_alone=$(for r in $(seq 1 "$rounds"); do a=$(val alone "$r"); b=$(val "$m" "$r"); [ -n "$a" ] && [ -n "$b" ] && awk -v g="$(goodput "$b")" -v a="$a" 'BEGIN{printf "%.3f\n", g / a}' || true; done | median)
  case "$m" in bb) pair="b1 b2" ;; hh) pair="h1 h2" ;; bh) pair="b1 h2" ;; *) pair="" ;; esac
  vs_pair="-"
  if [ -n "$pair" ]; then
    vs_pair=$(for r in $(seq 1 "$rounds"); do
      set -- $pair; x=$(val "$1" "$r"); y=$(val "$2" "$r"); b=$(val "$m" "$r")
      [ -n "$x" ] && [ -n "$y" ] && [ -n "$b" ] && awk -v g="$(goodput "$b")" -v x="$(goodput "$x")" -v y="$(goodput "$y")" 'BEGIN{printf "%.3f\n", g / (x + y)}' || true
    done | median)
  fi
  dup=$(awk -F'\t' -v m="$m" -v b="$bytes" '$1 == m && $4 == "ok" && $5 != "-" { printf "%.4f\n", $5 / b }' "$results" | median)
  per=$(awk -F'\t' -v m="$m" -v w="$w" '$1 == m && $3 == w { print $6; exit }' "$results")
  echo "| $m | $w$([ "$bad" -gt 0 ] && echo " ($bad failed)") | $(goodput "$w") | ${vs_alone:--} | ${vs_pair:--} | ${dup:--} | ${per:--} |"
done
a=$(for r in $(seq 1 "$rounds"); do val alone "$r"; done | median)
[ -n "$a" ] && echo && echo "Origins alone (one curl each over link 1, summed): $a Mbit/s (median of the rounds)"
echo
echo "Per round:"; sed 's/^/  /' "$results"
[ "$failed" = 0 ] || exit 1

#!/usr/bin/env bash
# The client's peak resident memory on a large download over loopback: bin/biternet-serve
# serves a sparse file (zeros the server reads without touching the disk) on 127.0.0.1 and
# bin/biternet-get, with the launcher's JVM options, downloads it to a real file on disk over one
# or more links (--iface 127.0.0.1, 127.0.0.2, ...), ROUNDS times. For each download it prints
# the peak resident set of the client process (Maximum resident set size, /usr/bin/time), the
# wall time, MiB/s and the client's CPU seconds, then the medians. The bound and what it
# measured: docs/DESIGN.md, "What bounds the client's memory". Needs python3 and /usr/bin/time
# (apt-get install time) and SIZE free on DIR's file system (checked). Deletes everything it
# made, also on ^C.
#
# Usage: bench/memory.sh [-s SIZE_GIB] [-l LINKS] [-r ROUNDS] [-d DIR]
#   -s file size in GiB (default 16); -l links (default 1; 8 for eight at once); -r downloads
#   (default 1); -d where the served file and the download go (default a new directory under
#   /var/tmp; a real disk: on tmpfs the download would sit in RAM)
# The first download after a build also dumps the client's class-data archive (bin/biternet-get):
# run -r 2 or more and read the later rounds.
# BITERNET_JAVA_OPTS is passed to both JVMs (e.g. -XX:NativeMemoryTracking=summary).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/serve-local.sh
. "$here/bench/serve-local.sh"
size_gib=16
links=1
rounds=1
base=/var/tmp
while getopts "s:l:r:d:h" opt; do
  case "$opt" in
    s) size_gib="$OPTARG" ;;
    l) links="$OPTARG" ;;
    r) rounds="$OPTARG" ;;
    d) base="$OPTARG" ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done
for tool in python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "memory: $tool is missing (apt-get install python3 time)" >&2; exit 2; }
done
free_kib=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt $(( (size_gib << 20) + (1 << 20) )) ]; then
  echo "memory: $base has $((free_kib >> 20)) GiB free, the download needs $size_gib GiB and 1 more; choose another -d" >&2
  exit 2
fi

work="$(mktemp -d "$base/biternet-memory.XXXXXX")"
serve_pid=""
cleanup() {
  set +e
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null
    wait "$serve_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/served" "$work/out"
truncate -s "${size_gib}G" "$work/served/big.bin"
bytes=$(stat -c %s "$work/served/big.bin")
start_serve memory "$work/served" "$work"
port=$serve_port
ifaces=()
for i in $(seq "$links"); do
  ifaces+=(--iface "127.0.0.$i")
done

results="$work/results.tsv"
: >"$results"
for r in $(seq "$rounds"); do
  echo "download $r/$rounds: $size_gib GiB over $links link(s) ..." >&2
  rm -f "$work/out/big.bin"
  /usr/bin/time -f "%M %e %U %S" -o "$work/time" \
    "$here/bin/biternet-get" --quiet "${ifaces[@]}" -o "$work/out/big.bin" "biternet://127.0.0.1:$port/big.bin" >/dev/null
  [ "$(stat -c %s "$work/out/big.bin")" = "$bytes" ] || { echo "memory: the download has the wrong size" >&2; exit 1; }
  rm -f "$work/out/big.bin"
  read -r kib wall user sys <"$work/time"
  printf "%s\t%s\t%s\n" "$kib" "$wall" "$(python3 -c "print($user+$sys)")" >>"$results"
done

python3 - "$results" "$bytes" "$links" <<'EOF'
import statistics, sys
path, size, links = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [tuple(float(x) for x in line.split("\t")) for line in open(path)]
mib = size / 2**20
print(f"{size / 2**30:.0f} GiB over {links} loopback link(s): peak RSS MiB, wall s, MiB/s, client CPU s")
for kib, wall, cpu in rows:
    print(f"  {kib / 1024:8.1f} {wall:8.2f} {mib / wall:8.0f} {cpu:8.2f}")
med = lambda i: statistics.median(r[i] for r in rows)
print(f"median {med(0) / 1024:8.1f} {med(1):8.2f} {mib / med(1):8.0f} {med(2):8.2f}")
EOF

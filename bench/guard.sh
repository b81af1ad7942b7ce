#!/usr/bin/env bash
# Performance guard: runs a short JMH profile (about 70 s on 2 cores) of the guarded
# comparisons and fails when a ratio measured in this run regresses. Absolute numbers are
# never compared, only ratios between two variants run back to back.
#
#   FileRegion (sendfile) / heap-copy send path, 1 link, epoll   must be >= 0.6
#     (on the kernel of 2026-11, 6.18.44-fc-v595, sendfile was 1.7-2.8x the heap copy over
#     loopback and this bound was > 1.0; on 6.18.44-fc-v1147, from 2026-12, the same code
#     measures 0.77-0.90: bench/README.md, "The guard on the newer kernel")
#   3 loopback links / 1 link, the real client (ClientTransferBenchmark) must be >= 0.8
#   SHA-256 of a direct buffer / of a heap array                 must be >= 0.8
#
# Each ratio is taken between the medians of the measured iterations. A ratio that fails is
# measured once more (both of its variants, back to back) before the guard gives up: on a
# shared 2-core machine a burst of load from another process can slow one variant's fork and
# not the other's; a real regression shows again. Prints the ratios; exit 0 when all hold, 1
# with a one-line reason when one does not (or the JMH run fails).
#
# Usage: bench/guard.sh            (needs bench/target/benchmarks.jar, see bench/README.md)
# Environment: GUARD_JSON=FILE keeps JMH's JSON results of the first run; GUARD_JMH_OPTS
# replaces the profile options (default "-f 1": each class's own warmup and measurement).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="$here/target/benchmarks.jar"
if [ ! -f "$jar" ]; then
  echo "guard: FAIL: $jar is missing; build it: ./mvnw -B -DskipTests package"
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
json="${GUARD_JSON:-$work/guard.json}"

# run_jmh OUT.json JMH-ARGS...
run_jmh() {
  local out="$1"
  shift
  # shellcheck disable=SC2086
  if ! java -jar "$jar" "$@" ${GUARD_JMH_OPTS:--f 1} -foe true -rf json -rff "$out" >"$work/jmh.log" 2>&1; then
    tail -n 40 "$work/jmh.log" >&2
    echo "guard: FAIL: the JMH run failed (its last lines are above)"
    exit 1
  fi
}

# check.py first|final FAILED-IDS-OUT JSON...: prints the ratios; later files override earlier ones.
cat >"$work/check.py" <<'PY'
import json, statistics, sys

final, failed_out, files = sys.argv[1] == "final", sys.argv[2], sys.argv[3:]
scores = {}
for path in files:
    with open(path) as f:
        for run in json.load(f):
            name = run["benchmark"].rsplit(".", 2)
            key = (name[-2] + "." + name[-1],) + tuple(sorted((run.get("params") or {}).items()))
            samples = [s for fork in run["primaryMetric"]["rawData"] for s in fork]
            scores[key] = statistics.median(samples)

def transfer(path, links):
    return scores.get(("TransferBenchmark.download", ("links", str(links)), ("path", path), ("transport", "epoll")))

def client(links):
    return scores.get(("ClientTransferBenchmark.download", ("links", str(links))))

def hash_(method):
    return scores.get(("HashBenchmark." + method,))

checks = [
    # (id, label, numerator, denominator, predicate, rule)
    ("region", "fileRegion/heapCopy (1 link, epoll)", transfer("fileRegion", 1), transfer("heapCopy", 1),
     lambda r: r >= 0.6, ">= 0.6"),
    ("links", "3 links/1 link (real client)", client(3), client(1),
     lambda r: r >= 0.8, ">= 0.8"),
    ("hash", "hash direct/heap", hash_("directBuffer"), hash_("heapArray"),
     lambda r: r >= 0.8, ">= 0.8"),
]
failures, failed_ids = [], []
for cid, label, num, den, ok, rule in checks:
    if num is None or den is None or den <= 0:
        failures.append(f"{label}: missing from the results")
        failed_ids.append(cid)
        continue
    ratio = num / den
    verdict = "ok" if ok(ratio) else "REGRESSED"
    print(f"guard: {label:38s} = {ratio:6.3f}  ({num:,.0f} / {den:,.0f})  must be {rule}: {verdict}")
    if not ok(ratio):
        failures.append(f"{label} = {ratio:.3f}, must be {rule}")
        failed_ids.append(cid)
with open(failed_out, "w") as f:
    f.write(" ".join(failed_ids))
if failures and final:
    print("guard: FAIL: " + "; ".join(failures))
sys.exit(1 if failures else 0)
PY

run_jmh "$json" 'dev.biternet.bench.(TransferBenchmark|HashBenchmark)' \
  -p transport=epoll -p path=fileRegion,heapCopy -p links=1
run_jmh "$work/client.json" 'dev.biternet.bench.ClientTransferBenchmark' -p links=1,3
if python3 "$work/check.py" first "$work/failed" "$json" "$work/client.json"; then
  echo "guard: ok"
  exit 0
fi
echo "guard: measuring the failed ratio(s) again (load average $(cut -d' ' -f1-3 /proc/loadavg))"
for id in $(cat "$work/failed"); do
  case "$id" in
    region) run_jmh "$work/again-$id.json" 'dev.biternet.bench.TransferBenchmark' -p transport=epoll -p path=fileRegion,heapCopy -p links=1 ;;
    links) run_jmh "$work/again-$id.json" 'dev.biternet.bench.ClientTransferBenchmark' -p links=1,3 ;;
    hash) run_jmh "$work/again-$id.json" 'dev.biternet.bench.HashBenchmark' ;;
  esac
done
if python3 "$work/check.py" final "$work/failed" "$json" "$work/client.json" "$work"/again-*.json; then
  echo "guard: ok (after measuring again)"
  exit 0
fi
exit 1

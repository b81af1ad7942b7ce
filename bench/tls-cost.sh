#!/usr/bin/env bash
# TLS cost on loopback, in one run: one plain and one TLS biternet-serve on the same files,
# biternet-get downloads a 256 MiB file from each in turn (ROUNDS times, over --iface
# 127.0.0.1..3), and prints each wall time and the ratio of the medians (TLS / plain).
# Needs the built jars (./mvnw -DskipTests package) and openssl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size_mib="${SIZE_MIB:-256}"
rounds="${ROUNDS:-3}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/root" "$work/out"
head -c $((size_mib << 20)) /dev/urandom > "$work/root/big.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 2 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
serve() { # $1: log file, rest: extra options; prints the port
  java -jar "$here/netty-server/target/biternet-serve.jar" --root "$work/root" --host 127.0.0.1 --port 0 "${@:2}" > "$1" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q ' port ' "$1" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/.* port \([0-9]*\).*/\1/p' "$1" | head -1
}
plain_port="$(serve "$work/plain.log")"
tls_port="$(serve "$work/tls.log" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem")"
get() { # $1: port, rest: options; prints seconds
  rm -f "$work/out/big.bin"
  java -jar "$here/netty-client/target/biternet-get.jar" --json --iface 127.0.0.1 --iface 127.0.0.2 --iface 127.0.0.3 \
    -o "$work/out/big.bin" "${@:2}" "biternet://127.0.0.1:$1/big.bin" | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p'
  cmp -s "$work/root/big.bin" "$work/out/big.bin" || { echo "download differs" >&2; exit 1; }
}
get "$plain_port" > /dev/null   # first download hashes the file on the servers' side
get "$tls_port" --tls --tls-trust "$work/cert.pem" > /dev/null
plain=(); tls=()
for r in $(seq "$rounds"); do
  plain+=("$(get "$plain_port")")
  tls+=("$(get "$tls_port" --tls --tls-trust "$work/cert.pem")")
  echo "round $r: plain ${plain[-1]} s, TLS ${tls[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp="$(median "${plain[@]}")"; mt="$(median "${tls[@]}")"
awk -v p="$mp" -v t="$mt" -v s="$size_mib" 'BEGIN {
  printf "%d MiB over 3 loopback links: plain %.2f s (%.0f MiB/s), TLS %.2f s (%.0f MiB/s), TLS/plain time %.2f\n",
    s, p, s / p, t, s / t, t / p }'

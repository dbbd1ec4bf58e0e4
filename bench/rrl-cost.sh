#!/usr/bin/env bash
# bench/rrl-cost.sh [QUERIES] — the CPU cost of response rate limiting per
# query: instructions per query of the answer path (dns_answer, and
# rrl_check with RRL on) counted by callgrind over bench/rrl-cost.c's loop,
# RRL off and on, from 1 source and from 1000 /24s; then wall-clock ns per
# query (noisy on a shared machine). Not a test; needs valgrind.
set -eu
cd "$(dirname "$0")/.."
n=${1:-200000}
command -v valgrind >/dev/null || { echo "rrl-cost: valgrind missing (apt-get install valgrind)"; exit 1; }
make -s build/libdns.a build/libzone.a build/libcommon.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -I. -pthread -o build/bench/rrl-cost bench/rrl-cost.c \
   build/libdns.a build/libzone.a build/libcommon.a -lurcu-memb -lurcu-common
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ir() { # MODE SOURCES -> instructions inside run_queries
  valgrind --tool=callgrind --toggle-collect=run_queries --callgrind-out-file="$out/cg" \
    build/bench/rrl-cost "$1" "$n" "$2" >/dev/null 2>"$out/log"
  sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$out/log"
}
printf '%-22s %14s %12s\n' "case ($n queries)" "instructions" "per query"
for sources in 1 1000; do
  off=$(ir off "$sources"); on=$(ir on "$sources")
  printf '%-22s %14s %12.1f\n' "off, $sources source(s)" "$off" "$(echo "$off / $n" | bc -l)"
  printf '%-22s %14s %12.1f\n' "on, $sources source(s)" "$on" "$(echo "$on / $n" | bc -l)"
  printf '%-22s %14s %12.1f  (+%.1f%%)\n' "  RRL costs" "$((on - off))" "$(echo "($on - $off) / $n" | bc -l)" \
    "$(echo "100 * ($on - $off) / $off" | bc -l)"
done
echo
for mode in off on; do build/bench/rrl-cost "$mode" "$n" 1; done

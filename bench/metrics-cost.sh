#!/usr/bin/env bash
# bench/metrics-cost.sh [QUERIES] — the CPU cost of the DNS metrics
# counters per query (dns/stats.h): instructions per query of the answer
# path counted by callgrind over bench/rrl-cost.c's loop, with metrics off
# (dns_answer, then dns_stats_response on a NULL slot, as dns/udp.c does
# without -metrics.addr) and on (the same with this worker's slot); then
# wall-clock ns per query (noisy on a shared machine). Goal: on within 3%
# of off. Not a test; needs valgrind.
set -eu
cd "$(dirname "$0")/.."
n=${1:-200000}
command -v valgrind >/dev/null || { echo "metrics-cost: valgrind missing (apt-get install valgrind)"; exit 1; }
make -s build/libdns.a build/libzone.a build/libcommon.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -g -I. -pthread -o build/bench/rrl-cost bench/rrl-cost.c \
   build/libdns.a build/libzone.a build/libcommon.a -lurcu-memb -lurcu-common
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ir() { # MODE -> instructions inside run_queries
  valgrind --tool=callgrind --toggle-collect=run_queries --callgrind-out-file="$out/cg" \
    build/bench/rrl-cost "$1" "$n" 1 >/dev/null 2>"$out/log"
  sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$out/log"
}
off=$(ir off); on=$(ir count)
printf '%-22s %14s %12s\n' "case ($n queries)" "instructions" "per query"
printf '%-22s %14s %12.1f\n' "metrics off" "$off" "$(echo "$off / $n" | bc -l)"
printf '%-22s %14s %12.1f\n' "metrics on" "$on" "$(echo "$on / $n" | bc -l)"
printf '%-22s %14s %12.1f  (+%.2f%%)\n' "  counting costs" "$((on - off))" "$(echo "($on - $off) / $n" | bc -l)" \
  "$(echo "100 * ($on - $off) / $off" | bc -l)"
echo
for mode in off count; do build/bench/rrl-cost "$mode" "$n" 1; done

#!/usr/bin/env bash
# bench/zone-index.sh [N] — generates an N-record zone (default 1,000,000)
# with bench/gen-zone.py, then times the zone index build and the answer
# engine on it (bench/zone-index.c). Not a test.
set -eu
cd "$(dirname "$0")/.."
n=${1:-1000000}
make -s build/libdns.a build/libzone.a build/libcommon.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -I. -o build/bench/zone-index bench/zone-index.c \
   build/libdns.a build/libzone.a build/libcommon.a -lurcu-memb -lurcu-common -pthread
[ -f build/bench/zone-$n.txt ] || /usr/bin/python3 bench/gen-zone.py "$n" -o build/bench/zone-$n.txt
build/bench/zone-index build/bench/zone-$n.txt

#!/usr/bin/env bash
# bench/zone-parse.sh [N] — generates an N-record zone (default 1,000,000)
# with bench/gen-zone.py and times the parser on it. Not a test.
set -eu
cd "$(dirname "$0")/.."
n=${1:-1000000}
make -s build/libzone.a build/libcommon.a
mkdir -p build/bench
cc -std=c11 -D_GNU_SOURCE -O2 -I. -o build/bench/zone-parse bench/zone-parse.c build/libzone.a build/libcommon.a
/usr/bin/python3 bench/gen-zone.py "$n" -o build/bench/zone-$n.txt
ls -l build/bench/zone-$n.txt
build/bench/zone-parse build/bench/zone-$n.txt

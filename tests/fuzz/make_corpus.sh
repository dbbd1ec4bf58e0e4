#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets written by
# tests/fuzz/make_corpus.c (fuzz_dns_wire, fuzz_kv_*, fuzz_raft_*): builds the
# generator against the normal build's libraries, replaces those corpus
# directories, and lists the counts. The zone/dns_answer corpora are not
# touched. Run from anywhere; commit the result.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory build/libkv.a build/libraft.a build/libdns.a build/libzone.a build/libcommon.a >/dev/null
mkdir -p build/tests
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -I. -o build/tests/make_corpus \
   tests/fuzz/make_corpus.c build/libkv.a build/libraft.a build/libdns.a build/libzone.a \
   build/libcommon.a -pthread -lyaml -lurcu-memb -lurcu-common
for t in fuzz_dns_wire fuzz_kv_admin fuzz_kv_command fuzz_kv_snapshot fuzz_raft_codec \
         fuzz_raft_wal fuzz_raft_snapfile; do
  rm -rf "tests/fuzz/corpus/$t"
done
build/tests/make_corpus
for t in fuzz_dns_wire fuzz_kv_admin fuzz_kv_command fuzz_kv_snapshot fuzz_raft_codec \
         fuzz_raft_wal fuzz_raft_snapfile; do
  echo "$t: $(ls "tests/fuzz/corpus/$t" | wc -l) seeds, $(du -sk "tests/fuzz/corpus/$t" | cut -f1) KiB"
done

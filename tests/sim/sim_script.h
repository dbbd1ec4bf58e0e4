/* tests/sim/sim_script.h — raft-sim --script: scripted scenarios with their
 * expected output in the same file (the style of etcd raft's testdata).
 *
 * A script is a list of commands (start, campaign, tick, deliver, drop,
 * stabilize, partition, heal, propose, crash, restart, transfer, add,
 * promote, remove, compact, status, log, expect, trace); after each command
 * a line "----" and the output it produced, then a blank line. Lines that
 * start with '#' are comments and are copied as they are. Running a script
 * prints the whole file again with the output the run really produced, so
 * `raft-sim --script F | diff -u F -` is the golden test and --rewrite
 * stores a new expected output. The command language is described in
 * docs/raft.md ("Scripted scenarios"). */
#ifndef SIM_SCRIPT_H
#define SIM_SCRIPT_H

#include <stdbool.h>
#include <stdio.h>

#include "raft/core/raft.h"

/* Runs the script in path against a core with `bugs` (0: correct) and
 * writes the transcript to out (or back to path when rewrite is set).
 * Returns 0 if it ran and every `expect` held, 1 if an expect failed, a
 * command was wrong ("error: ..." in its output) or a safety check fired,
 * 2 if the script cannot be read or written. */
int sim_script_run(const char *path, raft_bug_t bugs, bool rewrite, FILE *out);

#endif

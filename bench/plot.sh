# bench/plot.sh — PNG figures for the benchmarks (sourced by bench/raft-write
# and bench/dns-qps), drawn with gnuplot (Debian gnuplot-nox, installed by
# DNSRAFT_BENCH=1 scripts/deps.sh) from the data files the scripts write.
#
# Figures go to $PLOT_DIR (default plots/ in the source tree, ignored by
# git); docs/img/ holds the ones docs/performance.md shows. Without gnuplot
# the benchmark still runs and says that it drew nothing.

PLOT_DIR=${PLOT_DIR:-$PWD/plots}

# plot_ready: true when gnuplot is there (and makes PLOT_DIR), else says why.
plot_ready() {
  if ! command -v gnuplot >/dev/null; then
    echo "plot: no gnuplot, no PNG (DNSRAFT_BENCH=1 scripts/deps.sh installs gnuplot-nox)"
    return 1
  fi
  mkdir -p "$PLOT_DIR"
}

# plot_png OUT.png SCRIPT: runs the gnuplot SCRIPT with a common look,
# writing OUT.png (800x480).
plot_png() {
  local out=$1 script=$2
  gnuplot <<GP || { echo "plot: gnuplot failed for $out"; return 1; }
set terminal pngcairo size 800,480 font "DejaVu Sans,10" noenhanced
set output "$out"
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set key top left box opaque
$script
GP
  echo "plot: wrote $out"
}

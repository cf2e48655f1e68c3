#!/usr/bin/env bash
# Draws DIR/results.png from DIR/results.dat (tests/bench/bench.sh): per configuration, the
# medians of the rounds with their min-max as error bars: iperf3 throughput both ways, pktgen's
# small-packet rate both ways, sockperf's round-trip p50 and p99. A panel shows the
# configurations that have its numbers (mq2 has no pktgen or sockperf run). Usage: chart.sh DIR
set -euo pipefail
dir=${1:?usage: chart.sh DIR}
dat=$dir/results.dat
[ -s "$dat" ] || { echo "chart: no $dat" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "chart: no gnuplot (tools/deps.txt: gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-chart.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# One data file per panel: the configurations whose median in column COL is a number.
panel_data() { awk -v c="$2" '!/^#/ && $c != "-"' "$dat" >"$tmp/$1.dat"; }
panel_data tput 2
panel_data pps 8
panel_data rr 14
plots=()
[ ! -s "$tmp/tput.dat" ] || plots+=("set title 'iperf3 TCP throughput'
set ylabel 'Mbit/s'
plot '$tmp/tput.dat' using 2:3:4:xticlabels(1) title 'host->guest' lc rgb '#3070b0', \
	'' using 5:6:7 title 'guest->host' lc rgb '#e08020'")
[ ! -s "$tmp/pps.dat" ] || plots+=("set title 'small packets (pktgen, 64 B frames)'
set ylabel 'thousand packets/s'
plot '$tmp/pps.dat' using 8:9:10:xticlabels(1) title 'TX (guest->tap)' lc rgb '#3070b0', \
	'' using 11:12:13 title 'RX (tap->guest)' lc rgb '#e08020'")
[ ! -s "$tmp/rr.dat" ] || plots+=("set title 'request/response (sockperf UDP ping-pong)'
set ylabel 'round trip, microseconds (lower is better)'
plot '$tmp/rr.dat' using 14:15:16:xticlabels(1) title 'p50' lc rgb '#3070b0', \
	'' using 17:18:19 title 'p99' lc rgb '#e08020'")
[ ${#plots[@]} -gt 0 ] || { echo "chart: no numbers in $dat" >&2; exit 1; }
{
	echo "set terminal pngcairo size $((500 * ${#plots[@]})),560 font 'DejaVu Sans,11'"
	echo "set output '$dir/results.png'"
	cat <<'GP'
set datafile missing "-"
set style data histogram
set style histogram errorbars gap 1 lw 1.5
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key top left
set xtics rotate by 30 right nomirror
set bmargin 7
GP
	echo "set multiplot layout 1,${#plots[@]} title 'minivmm vs QEMU: median of the rounds, min-max as error bars (results.md)'"
	printf '%s\n' "${plots[@]}"
	echo "unset multiplot"
} >"$tmp/chart.gp"
rm -f "$dir/results.png"
gnuplot "$tmp/chart.gp"
[ -s "$dir/results.png" ] || { echo "chart: gnuplot wrote no $dir/results.png" >&2; exit 1; }
echo "chart: $dir/results.png" >&2

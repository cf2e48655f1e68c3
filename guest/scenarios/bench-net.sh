#!/bin/sh
# Scenario "bench-net": eth0 at GUEST_IP/24 serving the host's bench (tests/bench/bench.sh):
# iperf3 and sockperf servers, and commands on TCP port 5001 (guest/scenarios/lib/bench-ctl.sh:
# counters, a pktgen TX run), until the host sends "finish". Args: GUEST_IP.
ip addr add "$1/24" dev eth0
ip link set eth0 up
iperf3 -s -D
sockperf server -i "$1" --daemonize >/dev/null
[ -d /proc/net/pktgen ] || { echo "bench-net: no /proc/net/pktgen (pktgen.ko not loaded)"; exit 1; }
mkfifo /tmp/bench-finish
# -t: after the host's half-close, wait for the command's reply (socat's default is 0.5 s).
socat -t 60 TCP-LISTEN:5001,reuseaddr,fork EXEC:/scenarios/lib/bench-ctl.sh &
ctl=$!
echo MINIVMM-BENCH-READY
# bench-ctl.sh's "finish" writes the line that ends the wait.
read -r _ </tmp/bench-finish
kill "$ctl"

#!/bin/sh
# Scenario "bench-net": eth0 at GUEST_IP/24 serving iperf3 for the host's bench
# (tests/bench/bench.sh), until the host says "done" on TCP port 5001. Args: GUEST_IP.
ip addr add "$1/24" dev eth0
ip link set eth0 up
iperf3 -s -D
echo MINIVMM-BENCH-READY
nc -l -p 5001 >/dev/null

#!/bin/sh
# Scenario "sandbox-net": eth0 on a tap to the test host (Args: GUEST_IP HOST_IP): ping the host,
# a short iperf3 to it, then serve iperf3 and ping for the host until its "go" on TCP port 5001.
# Prints "MINIVMM-CHECK <name> ok|fail" lines like the "net" scenario.
ip=$1 host=$2
# shellcheck source=lib/check.sh
. /scenarios/lib/check.sh
ip addr add "$ip/24" dev eth0
ip link set eth0 up
iperf3 -s -D
check ping_host ping -c 3 -i 0.2 -W 3 "$host"
check iperf_guest_to_host iperf3 -c "$host" -t 2 -f m
echo MINIVMM-SANDBOX-READY
nc -l -p 5001 >/dev/null
echo MINIVMM-SCENARIO-DONE

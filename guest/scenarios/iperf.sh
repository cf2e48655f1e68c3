#!/bin/sh
# Scenario "iperf": one fixed iperf3 transfer each way over eth0. Args: GUEST_IP HOST_IP.
ip addr add "$1/24" dev eth0
ip link set eth0 up
ethtool -k eth0 | sed 's/^/MINIVMM-OFFLOAD /'
for dir in "" -R; do
	if iperf3 -c "$2" -t 3 -f m $dir >/tmp/iperf.out 2>&1; then
		grep -E 'receiver' /tmp/iperf.out | sed "s/^/MINIVMM-IPERF${dir} /"
	else
		echo "MINIVMM-IPERF-FAILED $dir"
		tail -n 3 /tmp/iperf.out
	fi
done
echo MINIVMM-SCENARIO-DONE

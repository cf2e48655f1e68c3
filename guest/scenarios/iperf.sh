#!/bin/sh
# Scenario "iperf": one fixed iperf3 transfer each way over eth0. Args: GUEST_IP HOST_IP [wait]
# With "wait": prints MINIVMM-IPERF-DONE after both and waits for the host's "go" on TCP port
# 5001 (so the host can look at the running VMM). Fails if a transfer failed.
ip addr add "$1/24" dev eth0
ip link set eth0 up
ethtool -k eth0 | sed 's/^/MINIVMM-OFFLOAD /'
failed=''
for dir in "" -R; do
	if iperf3 -c "$2" -t 3 -f m $dir >/tmp/iperf.out 2>&1; then
		grep -E 'receiver' /tmp/iperf.out | sed "s/^/MINIVMM-IPERF${dir} /"
	else
		echo "MINIVMM-IPERF-FAILED $dir"
		tail -n 3 /tmp/iperf.out
		failed=1
	fi
done
if [ "${3:-}" = wait ]; then
	echo MINIVMM-IPERF-DONE
	nc -l -p 5001 >/dev/null
fi
[ -z "$failed" ]

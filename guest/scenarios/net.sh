#!/bin/sh
# Scenario "net": eth0 on a tap to the test host. Args: GUEST_IP HOST_IP.
# Prints "MINIVMM-CHECK <name> ok|fail" lines that the host-side scenario turns into results, and
# synchronises with the host through console markers and a TCP "go" on port 5001. Fails (exit 1)
# if any check failed.
ip=$1 host=$2 failed=''
# shellcheck source=lib/check.sh
. /scenarios/lib/check.sh
# shellcheck source=lib/netup.sh
. /scenarios/lib/netup.sh

netup
echo MINIVMM-DIAG-BEGIN
lspci -v -s 00:01.0
ethtool -k eth0
echo "virtio-driver=$(basename "$(readlink /sys/bus/virtio/devices/virtio0/driver)")"
echo MINIVMM-DIAG-END
iperf3 -s -D
echo MINIVMM-NET-READY
check ping_host ping -c 3 -i 0.2 -W 3 "$host"
# ICMP payloads from a minimal frame to the largest IPv4 datagram (fragmented over the MTU).
for s in 18 1472 4000 16000 32000 65507; do
	check "ping_size_$s" ping -c 1 -W 5 -s "$s" "$host"
done
check iperf_guest_to_host iperf3 -c "$host" -t 3 -f m
grep -E 'sender|receiver' /tmp/check.out | sed 's/^/MINIVMM-IPERF guest->host /'
echo MINIVMM-PHASE1-DONE
nc -l -p 5001 >/dev/null
ip link set eth0 down
ip link set eth0 up
check link_down_up_carrier wait_until link_up
check link_down_up ping -c 3 -i 0.2 -W 3 "$host"
check module_unload rmmod virtio_net
check module_reload insmod /lib/modules/virtio_net.ko
check module_reload_eth0_back wait_until test -e /sys/class/net/eth0
netup
check ping_after_reload ping -c 3 -i 0.2 -W 3 "$host"
[ -z "$failed" ] || { echo "MINIVMM-GUEST: failed:$failed"; exit 1; }

#!/bin/sh
# One command of the bench's guest control (guest/scenarios/bench-net.sh runs this per TCP
# connection on port 5001, the connection as stdin/stdout):
#   rx                        eth0's rx_packets
#   pktgen SECS DST_IP DST_MAC  the kernel's pktgen sends 64-byte UDP frames (60 B + FCS) out of
#                             eth0 for SECS seconds; prints "sent N" (the host counts arrivals)
#   finish                    end the scenario (the guest powers off)
pg() { echo "$2" >"/proc/net/pktgen/$1" || { echo "error: pktgen $1: $2"; exit 1; }; }
read -r cmd a b c || exit 1
echo "bench-ctl: $cmd $a $b $c" >&2
case $cmd in
rx) cat /sys/class/net/eth0/statistics/rx_packets ;;
pktgen)
	pg kpktgend_0 rem_device_all
	pg kpktgend_0 "add_device eth0"
	pg eth0 "count 0"
	pg eth0 "pkt_size 60"
	pg eth0 "clone_skb 0"
	pg eth0 "dst $b"
	pg eth0 "dst_mac $c"
	pg eth0 "udp_dst_min 9"
	pg eth0 "udp_dst_max 9"
	# "start" returns when the run stops; a run left going would own a vCPU for good.
	trap 'echo stop >/proc/net/pktgen/pgctrl' EXIT
	trap 'exit 1' INT TERM HUP
	echo start >/proc/net/pktgen/pgctrl &
	run=$!
	sleep "$a"
	echo stop >/proc/net/pktgen/pgctrl
	wait "$run"
	sent=$(sed -n 's/.*pkts-sofar: \([0-9]*\).*/\1/p' /proc/net/pktgen/eth0)
	pg kpktgend_0 rem_device_all
	echo "sent ${sent:-0}"
	;;
finish)
	echo ok
	echo finish >/tmp/bench-finish
	;;
*) echo "error: unknown command '$cmd'" ;;
esac

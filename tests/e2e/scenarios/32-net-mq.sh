#!/usr/bin/env bash
# e2e: multiqueue virtio-net (--net tap,queues=2) in a 2-vCPU guest, one boot with vhost=off and
# one with vhost=on, everything checked in each (guest side: guest/scenarios/mq.sh): ethtool -l
# shows 2 combined, lspci MSI-X Count=5, iperf3 -P 4 both ways, interrupts on both input queues,
# ethtool -L combined 1 and back to 2 (the tap's attached queues follow), QMP stop/cont keeping
# both pairs, a driver reload; on the host an I/O thread per pair (vhost=off) or a vhost worker per
# pair (vhost=on), per-queue --stats.
# e2e-timeout: 660
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"
MQ_TAP=mvmq0

# The tap's attached queues: tun sets the interface's real queue count to them.
mq_tap_queues() { find /sys/class/net/$MQ_TAP/queues -maxdepth 1 -name 'rx-*' | wc -l; }
# Until the tap has $1 attached queues (at most 5 s): each pair's I/O thread attaches or detaches
# its queue right after the guest's command was answered, an event the host cannot wait on.
mq_wait_tap_queues() {
	local i
	for _ in $(seq 50); do
		[ "$(mq_tap_queues)" -eq "$1" ] && return 0
		snooze 0.1
	done
	return 1
}
# mq_step MARKER: wait for the guest's MINIVMM-MQ-MARKER; false (and the guest killed) if it
# never comes.
mq_step() {
	wait_for_log "^MINIVMM-MQ-$1\$" 400 && return 0
	fail "${pre}guest_reached_$1" "no MINIVMM-MQ-$1"
	kill "$GUEST_PID" 2>/dev/null
	return 1
}
mq_go() { echo go | nc -N -w 5 "$NET_GUEST" 5001 || fail "${pre}signal_guest"; }

# QMP stop and cont (every pair stopped and started again, no driver reset): the pairs the
# driver chose stay in use, so the tap keeps both queues attached (the guest then sends and
# receives on both again).
mq_stop_cont() {
	local out
	out=$(printf '%s\n' '{"execute": "qmp_capabilities"}' '{"execute": "stop"}' '{"execute": "cont"}' |
		socat -t 5 - "UNIX-CONNECT:$2" 2>&1)
	check "${1}qmp_stop_cont" test "$(grep -o '"return": {}' <<<"$out" | wc -l)" -eq 3
	check "${1}tap_queues_attached_2_after_stop_cont" test "$(mq_tap_queues)" -eq 2
}

mq_boot() {
	local vhost=$1 pre="${SCENARIO#*-}:vhost-$1:" p n sock=$RESULTS/mq-vhost-$1.sock
	rm -f "$sock"
	boot_guest_bg --scenario mq --log "mq-vhost-$vhost" --args "$NET_GUEST,$NET_HOST" --timeout 600 -- \
		--cpus 2 --mem 512M --net "tap,ifname=$MQ_TAP,vhost=$vhost,queues=2" --stats --qmp "unix:$sock"
	if mq_step LOADED; then
		p=$(net_vmm_pid)
		if [ "$vhost" = on ]; then
			n=$(net_vhost_workers "$p" | wc -l)
			check "${pre}one_vhost_worker_per_pair" test "$n" -eq 2
		else
			n=$(cat /proc/"$p"/task/*/comm 2>/dev/null | grep -cE '^net0-io[01]$')
			check "${pre}one_io_thread_per_pair" test "$n" -eq 2
		fi
		check "${pre}tap_queues_attached_2" mq_wait_tap_queues 2
		mq_go
		if mq_step PAIRS-1; then
			check "${pre}tap_queues_attached_1_after_combined_1" mq_wait_tap_queues 1
			mq_go
			if mq_step PAIRS-2; then
				check "${pre}tap_queues_attached_2_after_combined_2" mq_wait_tap_queues 2
				mq_stop_cont "$pre" "$sock"
				mq_go
			fi
		fi
	fi
	wait_guest
	tr -d '\r' <"$GUEST_LOG" | grep -E '^MINIVMM-(IPERF|MQ-IRQS)' | sed 's/^MINIVMM-/  /'
	expect "${pre}lspci_msix_count_5" 'MSI-X: Enable\+ Count=5'
	net_guest_end "$pre"
	local q
	for q in rx0 tx0 rx1 tx1 ctrl; do
		expect "${pre}stats_line_$q" "^stats: net0 $q "
	done
	if [ "$vhost" = off ]; then
		# Pair 1 moved frames on its own thread, both ways.
		check "${pre}stats_rx1_packets" test "$(net_stat "$GUEST_LOG" rx1 packets)" -gt 0
		check "${pre}stats_tx1_packets" test "$(net_stat "$GUEST_LOG" tx1 packets)" -gt 0
	fi
}

ip tuntap add dev $MQ_TAP mode tap multi_queue || fail tap_create_multi_queue
on_exit ip link del $MQ_TAP
ip addr add "$NET_HOST/24" dev $MQ_TAP
ip link set $MQ_TAP up
for port in 5201 5202; do
	iperf3 -s -D -B "$NET_HOST" -p $port --logfile "$RESULTS/iperf3-server-$port.log"
	on_exit pkill -f "iperf3 -s -D -B $NET_HOST -p $port"
done
mq_boot off
mq_boot on
e2e_finish

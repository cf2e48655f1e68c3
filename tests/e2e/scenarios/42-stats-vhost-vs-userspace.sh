#!/usr/bin/env bash
# e2e: the guest sees the same offloads (ethtool -k) with vhost=on as with vhost=off; and
# for the same iperf3 transfers, --stats shows the VMM handling the queue kicks and
# interrupts with vhost=off, and (almost) none of them with vhost=on, where the kernel does it.
# Whether anything leaks to the VMM under vhost is measured where a leak would show: the CPU
# time of minivmm's net0-io thread (userspace datapath: all the packet work; vhost: none) against
# the kernel's vhost worker's.
# e2e-timeout: 600
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"

tap_create mvtap0 "$NET_HOST/24" || fail tap_create
iperf3 -s -D -B "$NET_HOST"
on_exit pkill -f "iperf3 -s -D -B $NET_HOST"
declare -A kicks irqs exits io worker
for vhost in off on; do
	boot_guest_bg --log "iperf-vhost-$vhost" --scenario iperf --args "$NET_GUEST,$NET_HOST,wait" --timeout 300 -- \
		--cpus 2 --mem 512M --net "tap,ifname=mvtap0,vhost=$vhost" --stats
	io[$vhost]=-1 worker[$vhost]=-1
	if wait_for_log '^MINIVMM-IPERF-DONE' 250; then
		# Both transfers are over; the guest waits for "go": minivmm's threads are still there.
		p=$(net_vmm_pid)
		if [ -n "$p" ]; then
			io[$vhost]=$(net_ticks "$p" net0-io)
			w=$(net_vhost_workers "$p")
			[ -z "$w" ] || worker[$vhost]=$(net_ticks_of $w)
		fi
		echo go | nc -N -w 5 "$NET_GUEST" 5001 || fail "stats_signal_guest_vhost_$vhost"
	else
		kill "$GUEST_PID" 2>/dev/null
	fi
	wait_guest
	if expect_in_log '^MINIVMM-IPERF ' && expect_in_log '^MINIVMM-IPERF-R ' && ! expect_in_log 'IPERF-FAILED'; then
		pass "stats_iperf_both_ways_vhost_$vhost"
	else
		fail "stats_iperf_both_ways_vhost_$vhost"
	fi
	kicks[$vhost]=$(($(net_stat "$GUEST_LOG" tx kicks) + $(net_stat "$GUEST_LOG" rx kicks)))
	irqs[$vhost]=$(($(net_stat "$GUEST_LOG" tx interrupts) + $(net_stat "$GUEST_LOG" rx interrupts)))
	exits[$vhost]=$(net_stat_exits "$GUEST_LOG")
	echo "  vhost=$vhost: VMM-handled rx+tx kicks ${kicks[$vhost]}, interrupts ${irqs[$vhost]}," \
		"KVM exits to userspace ${exits[$vhost]}; CPU ticks: net0-io ${io[$vhost]}, vhost worker ${worker[$vhost]}"
	tr -d '\r' <"$GUEST_LOG" | grep -E '^(MINIVMM-IPERF|stats: )' | sed 's/^/    /'
	tr -d '\r' <"$GUEST_LOG" | grep -E '^MINIVMM-OFFLOAD ' >"$RESULTS/offloads-vhost-$vhost"
done
if [ -s "$RESULTS/offloads-vhost-on" ] && diff "$RESULTS/offloads-vhost-off" "$RESULTS/offloads-vhost-on"; then
	pass offloads_same_with_vhost_on_and_off
else
	fail offloads_same_with_vhost_on_and_off "ethtool -k differs (or is empty)"
fi
if grep -q '^MINIVMM-OFFLOAD tcp-segmentation-offload: on' "$RESULTS/offloads-vhost-on"; then
	pass offloads_tso_on_with_vhost
else
	fail offloads_tso_on_with_vhost
fi
# Thousands of packets each way: the userspace datapath is kicked and interrupts many times; vhost
# takes every kick and raises every interrupt in the kernel, so the VMM sees none. (KVM exits to
# userspace are alike for both: ioeventfd and irqfd keep kicks and interrupts in the kernel either
# way; what they leave is mostly the serial console.)
check stats_userspace_datapath_handles_kicks test "${kicks[off]}" -ge 50
check stats_userspace_datapath_raises_interrupts test "${irqs[off]}" -ge 50
# The counters above stay at 0 under vhost whatever happens (the VMM never sees the queues), so
# a leak is looked for in CPU time: the same transfers cost the userspace datapath's net0-io
# thread at least 10 ticks; under vhost it must spend under a tenth of that (and at most 2 ticks
# when the userspace figure is small), while the kernel's vhost worker does the work.
check stats_userspace_io_thread_does_the_work test "${io[off]}" -ge 10
lim=$((io[off] / 10)); [ "$lim" -ge 2 ] || lim=2
check stats_vhost_leaves_no_work_to_the_vmm_io_thread test "${io[on]}" -ge 0 -a "${io[on]}" -le "$lim"
check stats_vhost_worker_moves_the_packets test "${worker[on]}" -ge 1
check stats_no_vhost_worker_without_vhost test "${worker[off]}" -eq -1
check stats_vhost_exits_no_more_than_userspace test "${exits[on]}" -le $((exits[off] * 3 / 2))
e2e_finish

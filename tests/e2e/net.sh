# The host side of the tap networking scenarios (sourced after lib.sh): one guest on a tap with
# the given vhost mode and extra kernel arguments, driven through guest/scenarios/net.sh.
#   net_scenario VHOST [APPEND]     VHOST: on|off; APPEND e.g. pci=nomsi (INTx)
# Results are prefixed with the scenario name. Sets NET_STATS_LOG for the caller.
NET_HOST=10.77.0.1 NET_GUEST=10.77.0.2

# Guest lines "MINIVMM-CHECK name ok|fail" -> PASS/FAIL lines.
net_guest_results() {
	local name res
	while read -r _ name res; do
		[ -n "$name" ] || continue
		if [ "$res" = ok ]; then pass "$1$name"; else fail "$1$name" "(in the guest)"; fi
	done <<<"$(tr -d '\r' <"$GUEST_LOG" | grep -E '^MINIVMM-CHECK ')"
}

# The running minivmm under boot_guest_bg's timeout wrapper.
net_vmm_pid() { pgrep -P "$GUEST_PID" -x minivmm | head -n1; }

# /proc/<id> of each vhost worker of minivmm P: a kernel thread "vhost-P" before Linux 6.4, a
# thread of P itself (/proc/P/task/*) since.
# (read, not cat: a fork per process costs seconds in the nested test host.)
net_vhost_workers() {
	local f c
	for f in /proc/"$1"/task/*/comm /proc/[0-9]*/comm; do
		read -r c 2>/dev/null <"$f" && [ "$c" = "vhost-$1" ] && echo "${f%/comm}"
	done | sort -u
}

# CPU time (clock ticks, user+system) of the threads /proc/ID... given, or of P's threads named NAME:
#   net_ticks P NAME | net_ticks_of /proc/ID...
net_ticks_of() {
	local d t=0 st
	for d in "$@"; do
		read -r st 2>/dev/null <"$d/stat" || continue
		st=${st##*) }          # fields from 3 on (comm may hold spaces)
		set -- $st
		t=$((t + ${12} + ${13})) # utime, stime: fields 14 and 15
	done
	echo $t
}
net_ticks() {
	local d c ds=()
	for d in /proc/"$1"/task/*; do
		read -r c 2>/dev/null <"$d/comm" && [ "$c" = "$2" ] && ds+=("$d")
	done
	[ ${#ds[@]} -gt 0 ] || { echo -1; return; }
	net_ticks_of "${ds[@]}"
}

net_check_fds() {
	local p=$1 vhost=$2 pre=$3 fds
	if [ -z "$p" ] || [ ! -d "/proc/$p" ]; then
		fail "${pre}vmm_process_found" "no minivmm process under $GUEST_PID"
		return
	fi
	pass "${pre}vmm_process_found"
	fds=$(ls -l /proc/"$p"/fd 2>/dev/null)
	if grep -q ' /dev/kvm$' <<<"$fds"; then pass "${pre}fd_dev_kvm"; else fail "${pre}fd_dev_kvm"; fi
	if grep -q ' /dev/net/tun$' <<<"$fds"; then pass "${pre}fd_dev_net_tun"; else fail "${pre}fd_dev_net_tun"; fi
	local has_vhost=0 has_thread=0
	grep -q ' /dev/vhost-net$' <<<"$fds" && has_vhost=1
	[ -z "$(net_vhost_workers "$p")" ] || has_thread=1
	if [ "$vhost" = on ]; then
		[ $has_vhost = 1 ] && pass "${pre}fd_dev_vhost_net" || fail "${pre}fd_dev_vhost_net"
		[ $has_thread = 1 ] && pass "${pre}vhost_kernel_thread" || fail "${pre}vhost_kernel_thread" "no vhost-$p"
	else
		[ $has_vhost = 0 ] && pass "${pre}no_vhost_fd" || fail "${pre}no_vhost_fd"
		[ $has_thread = 0 ] && pass "${pre}no_vhost_thread" || fail "${pre}no_vhost_thread"
	fi
}

net_check_diag() {
	local pre=$1 msix=$2
	expect "${pre}lspci_names_device" 'Virtio .*network device \(rev 01\)'
	expect "${pre}lspci_msix_count_3" "MSI-X: Enable$msix Count=3"
	local cap
	for cap in CommonCfg Notify ISR DeviceCfg; do
		expect "${pre}lspci_cap_$cap" "Vendor Specific Information: VirtIO: $cap"
	done
	expect "${pre}lspci_driver_virtio_pci" 'Kernel driver in use: virtio-pci'
	expect "${pre}virtio_driver_is_virtio_net" '^virtio-driver=virtio_net$'
	expect "${pre}ethtool_tx_checksum_on" '^tx-checksumming: on'
	expect "${pre}ethtool_rx_checksum_on" '^rx-checksumming: on'
	expect "${pre}ethtool_tso_on" '^tcp-segmentation-offload: on'
}

# After wait_guest: the guest's checks, its scenario's end, minivmm's exit status, the --stats lines.
net_guest_end() {
	net_guest_results "$1"
	expect "${1}guest_scenario_done" '^MINIVMM-SCENARIO-DONE'
	check "${1}vmm_exit_status_0" test "$GUEST_RC" -eq 0
	grep -E '^stats: ' "$GUEST_LOG" | sed 's/^/  /'
}

net_scenario() {
	local vhost=$1 append=${2:-} pre="${SCENARIO#*-}:" msix='\+' p out
	[ -z "$append" ] || msix=-
	tap_create mvtap0 "$NET_HOST/24" || { fail "${pre}tap_create"; return; }
	iperf3 -s -D -B "$NET_HOST" --logfile "$RESULTS/iperf3-server.log"
	on_exit pkill -f "iperf3 -s -D -B $NET_HOST"
	boot_guest_bg --scenario net --args "$NET_GUEST,$NET_HOST" ${append:+--append "$append"} \
		--timeout 600 -- --cpus 2 --mem 512M --net "tap,ifname=mvtap0,vhost=$vhost" --stats
	if ! wait_for_log '^MINIVMM-PHASE1-DONE' 400; then
		fail "${pre}guest_phase1" "no MINIVMM-PHASE1-DONE"
		kill "$GUEST_PID" 2>/dev/null # it would wait for the host's "go" until its timeout
	else
		p=$(net_vmm_pid)
		net_check_fds "$p" "$vhost" "$pre"
		check "${pre}ping_guest" ping -c 3 -i 0.2 -W 3 "$NET_GUEST"
		local s
		for s in 18 1472 16000 65507; do
			check "${pre}ping_guest_size_$s" ping -c 1 -W 5 -s "$s" "$NET_GUEST"
		done
		if out=$(iperf3 -c "$NET_GUEST" -t 3 -f m 2>&1); then
			pass "${pre}iperf_host_to_guest"
			grep -E 'sender|receiver' <<<"$out" | sed 's/^/  iperf host->guest /'
		else
			fail "${pre}iperf_host_to_guest" "$(tail -n 2 <<<"$out")"
		fi
		kill -USR1 "$p" # --stats prints now too, not only at exit
		echo go | nc -N -w 5 "$NET_GUEST" 5001 || fail "${pre}signal_guest"
	fi
	wait_guest
	tr -d '\r' <"$GUEST_LOG" | grep -E '^MINIVMM-IPERF' | sed 's/^MINIVMM-IPERF /  iperf /'
	net_check_diag "$pre" "$msix"
	net_guest_end "$pre"
	local reports
	reports=$(grep -c '^stats: net0 tx ' "$GUEST_LOG")
	check "${pre}stats_on_sigusr1_and_at_exit" test "$reports" -eq 2
	NET_STATS_LOG=$GUEST_LOG
}

# net_stat LOG Q FIELD: FIELD (kicks|interrupts|packets|...) of net0's queue Q (rx|tx) in a --stats log.
net_stat() { tr -d '\r' <"$1" | sed -n "s/^stats: net0 $2 .* $3=\([0-9]*\).*/\1/p"; }
# total KVM exits of all vCPUs.
net_stat_exits() { tr -d '\r' <"$1" | sed -n 's/^stats: vcpu[0-9]* exits \([0-9]*\):.*/\1/p' | paste -sd+ | bc; }

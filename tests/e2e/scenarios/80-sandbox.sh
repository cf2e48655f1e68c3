#!/usr/bin/env bash
# e2e: least privilege (issue #11).
#  (a) minivmm started by nobody (kvm and vhost-net through a group, a tap owned by nobody), with
#      vhost=on and vhost=off: the guest boots, pings both ways, iperf3 runs both ways.
#  (b) started as root with --runas nobody: every thread of the running VM shows uid/gid 65534, no
#      groups, CapEff 0, NoNewPrivs 1, Seccomp 2; networking works on a tap and on user (slirp);
#      the QMP socket is nobody's, and minivmm removes it at exit from a sticky directory.
#  (c) --seccomp off boots; --seccomp maybe and --runas nosuchuser exit 2 with one line.
#  (d) each thread kind (main, vcpu, net-io, irq-poller) making a call outside its list ends
#      minivmm with one line naming the kind and the call (test hook of the -san build).
#  (e) is 81-sandbox-console-flood: its own scenario, so the test host's emulation fault, which
#      its exit storm meets more often than any other guest does (tests/e2e/README.md), costs a
#      rerun of that guest alone.
# Run in the order b, d, a, c (the thread-kind checks first). E2E_SANDBOX_ONLY="a b ..." runs only
# those parts (for debugging).
# e2e-timeout: 1500
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"

HOST=10.78.0.1 GUEST=10.78.0.2 TAP=mvsbx0
SHARE_GID=64000 # the group given /dev/kvm and /dev/vhost-net, as README's "kvm" group would be
part() { [ -z "${E2E_SANDBOX_ONLY:-}" ] || [[ " $E2E_SANDBOX_ONLY " == *" $1 "* ]]; }

# Device nodes for the group, as the README tells an administrator; put back at exit.
dev_share() {
	local d=$1 mode=$2 m g
	m=$(stat -c %a "$d") g=$(stat -c %g "$d")
	on_exit chmod "$m" "$d"
	on_exit chgrp "$g" "$d"
	chgrp "$SHARE_GID" "$d" && chmod "$mode" "$d"
}

# Every thread of minivmm PID (named in the results by PRE): the credentials --runas must leave.
threads_check() {
	local p=$1 pre=$2 t st name bad_uid='' bad_gid='' bad_groups='' bad_cap='' bad_nnp='' bad_sc='' n=0
	# Shell matching, not grep: a fork per line costs seconds in the nested test host.
	local T=$'\t' N=$'\n'
	for t in /proc/"$p"/task/*; do
		st=''
		IFS= read -r -d '' st 2>/dev/null <"$t/status"
		[ -n "$st" ] || continue
		st=$N$st
		name=${st#*"${N}Name:$T"} name=${name%%"$N"*}
		n=$((n + 1))
		[[ $st == *"${N}Uid:${T}65534${T}65534${T}65534${T}65534$N"* ]] || bad_uid+=" $name"
		[[ $st == *"${N}Gid:${T}65534${T}65534${T}65534${T}65534$N"* ]] || bad_gid+=" $name"
		[[ $st =~ $N"Groups:"[[:blank:]]*$N ]] || bad_groups+=" $name"
		[[ $st == *"${N}CapEff:${T}0000000000000000$N"* ]] || bad_cap+=" $name"
		[[ $st == *"${N}NoNewPrivs:${T}1$N"* ]] || bad_nnp+=" $name"
		[[ $st == *"${N}Seccomp:${T}2$N"* ]] || bad_sc+=" $name"
	done
	echo "  threads of minivmm: $(cat /proc/"$p"/task/*/comm 2>/dev/null | tr '\n' ' ')"
	# main, two vCPUs, the net I/O thread and the interrupt poller at least.
	if [ "$n" -ge 5 ]; then pass "${pre}threads_all_kinds_seen"; else fail "${pre}threads_all_kinds_seen" "$n threads"; fi
	local v
	for v in uid gid groups cap nnp sc; do
		local bad=bad_$v
		if [ -z "${!bad}" ]; then pass "${pre}every_thread_$v"; else fail "${pre}every_thread_$v" "threads:${!bad}"; fi
	done
}

# One guest on the tap through VMM (a command: minivmm or a wrapper) with vhost V; ARGS go to minivmm.
tap_run() {
	local pre=$1 vmm=$2 v=$3 threads=$4 p out
	shift 4
	boot_guest_bg --log "${pre%:}" --scenario sandbox-net --args "$GUEST,$HOST" --timeout 600 --vmm "$vmm" -- \
		--cpus 2 --mem 512M --net "tap,ifname=$TAP,vhost=$v" "$@"
	if wait_for_log '^MINIVMM-SANDBOX-READY' 400; then
		p=$(net_vmm_pid)
		# (Not /proc/PID's owner: after --runas the process is not dumpable, so that stays root.)
		[ "$(awk '/^Uid:/ { print $3 }' /proc/"$p"/status)" = 65534 ] && pass "${pre}runs_as_nobody" ||
			fail "${pre}runs_as_nobody"
		[ "$threads" = 0 ] || threads_check "$p" "$pre"
		if [ "$v" = on ]; then
			# A process before Linux 6.4, a thread of minivmm since (then in threads_check too).
			[ -n "$(net_vhost_workers "$p")" ] && pass "${pre}vhost_in_use" || fail "${pre}vhost_in_use"
		fi
		check "${pre}ping_guest" ping -c 3 -i 0.2 -W 3 "$GUEST"
		if out=$(iperf3 -c "$GUEST" -t 2 -f m 2>&1); then pass "${pre}iperf_host_to_guest"
		else fail "${pre}iperf_host_to_guest" "$(tail -n 2 <<<"$out")"; fi
		echo go | nc -N -w 5 "$GUEST" 5001 || fail "${pre}signal_guest"
	else
		fail "${pre}guest_ready" "no MINIVMM-SANDBOX-READY"
	fi
	wait_guest
	net_guest_results "$pre"
	expect "${pre}guest_scenario_done" '^MINIVMM-SCENARIO-DONE'
	check "${pre}exit_status_0" test "$GUEST_RC" -eq 0
	if expect_in_log '^minivmm: seccomp:'; then fail "${pre}no_seccomp_report"; else pass "${pre}no_seccomp_report"; fi
}

if part a || part b; then
	dev_share /dev/kvm 660
	dev_share /dev/vhost-net 660
	# 0666 is /dev/net/tun's mode on every distribution (udev); the test host has no udev.
	on_exit chmod "$(stat -c %a /dev/net/tun)" /dev/net/tun
	chmod 666 /dev/net/tun
	# The administrator's one-time step: a tap that belongs to the user.
	ip tuntap add dev "$TAP" mode tap user 65534 || fail tap_create_for_nobody
	on_exit ip link del "$TAP"
	ip addr add "$HOST/24" dev "$TAP" && ip link set "$TAP" up
	iperf3 -s -D -B "$HOST" --logfile "$RESULTS/iperf3-server.log"
	on_exit pkill -f "iperf3 -s -D -B $HOST"
fi

if part b; then
	tap_run "runas_tap:" "$MINIVMM" on 1 --runas nobody

	PORT=47180 FWD=47122
	file=$RESULTS/payload
	head -c 262144 /dev/urandom >"$file"
	want=$(md5sum <"$file" | cut -d' ' -f1)
	socat TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork SYSTEM:"cat $file" &
	on_exit kill $!
	# The QMP socket in a directory like /tmp (sticky: only a file's owner may remove it).
	sticky=$(mktemp -d) && chmod 1777 "$sticky" && on_exit rm -rf "$sticky"
	boot_guest_bg --log runas-user --scenario user --args "full,$PORT" --timeout 400 -- \
		--cpus 2 --runas nobody --qmp "unix:$sticky/qmp.sock" --net "user,hostfwd=tcp:127.0.0.1:$FWD-:8022"
	if wait_for_log '^MINIVMM-USER-LISTENING' 300; then
		threads_check "$(net_vmm_pid)" "runas_user:"
		owner=$(stat -c %u "$sticky/qmp.sock" 2>&1) # (and "removed" below counts only if it was there)
		if [ "$owner" = 65534 ]; then pass runas_user:qmp_socket_is_the_users; else fail runas_user:qmp_socket_is_the_users "owner $owner"; fi
		got=$(echo host-hello | timeout 20 socat -t 10 - TCP:127.0.0.1:$FWD 2>&1)
		if [ "$got" = guest-hello ]; then pass runas_user:hostfwd_to_guest_and_back; else fail runas_user:hostfwd_to_guest_and_back "got '$got'"; fi
	else
		fail runas_user:guest_listening "never listened"
	fi
	wait_guest
	if [ -e "$sticky/qmp.sock" ]; then
		fail runas_user:qmp_socket_removed_at_exit "left behind: $(stat -c '%U %a' "$sticky/qmp.sock")"
	elif [ "${owner:-}" != 65534 ]; then fail runas_user:qmp_socket_removed_at_exit "never seen as nobody's"
	else pass runas_user:qmp_socket_removed_at_exit; fi
	expect runas_user:dhcp_address '^MINIVMM-USER-ADDR 10\.0\.2\.15/24'
	expect runas_user:fetch_from_host "^MINIVMM-USER-FETCHED $want 262144"
	check runas_user:exit_status_0 test "$GUEST_RC" -eq 0
	if expect_in_log '^minivmm: seccomp:'; then fail runas_user:no_seccomp_report; else pass runas_user:no_seccomp_report; fi
fi

if part d; then
	for kind in main vcpu irq-poller net-io; do
		export MINIVMM_TEST_SECCOMP_VIOLATE=$kind
		boot_guest --log "violate-$kind" --vmm "$MINIVMM_SAN" --timeout 300 -- --cpus 2 --net user --seccomp on
		unset MINIVMM_TEST_SECCOMP_VIOLATE
		check "violation_${kind}_exit_1" test "$GUEST_RC" -eq 1
		n=$(tr -d '\r' <"$GUEST_LOG" | grep -c '^minivmm: seccomp: ')
		line=$(tr -d '\r' <"$GUEST_LOG" | grep '^minivmm: seccomp: ')
		if [ "$n" -eq 1 ] && [[ $line == "minivmm: seccomp: $kind thread "*" made a forbidden system call: personality (135)" ]]; then
			pass "violation_${kind}_one_line_report"
		else
			fail "violation_${kind}_one_line_report" "$n lines: $line"
		fi
		if expect_in_log 'Sanitizer|runtime error:'; then fail "violation_${kind}_no_sanitizer_noise"; else pass "violation_${kind}_no_sanitizer_noise"; fi
	done
fi

if part a; then
	runner=$RESULTS/as-nobody.sh
	printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --groups=%s %q "$@"\n' "$SHARE_GID" "$MINIVMM" >"$runner"
	chmod 755 "$runner"
	for v in on off; do
		tap_run "nobody_vhost_$v:" "$runner" "$v" 0
	done
fi

if part c; then
	boot_guest --log seccomp-off -- --cpus 2 --net none --seccomp off
	expect seccomp_off_boots '^MINIVMM-GUEST-UP nproc=2 '
	check seccomp_off_exit_0 test "$GUEST_RC" -eq 0
	for bad in "--seccomp maybe" "--runas nosuchuser"; do
		name=bad_${bad#--}
		name=${name// /_}
		# shellcheck disable=SC2086 # the option and its value are two words
		out=$("$MINIVMM" --kernel "$GUEST_KERNEL" --net none $bad 2>&1 </dev/null)
		rc=$?
		if [ $rc -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && [[ $out == minivmm:* ]]; then pass "$name"
		else fail "$name" "rc $rc, output: $out"; fi
	done
fi
e2e_finish

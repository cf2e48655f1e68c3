#!/usr/bin/env bash
# e2e: bad input gets one clear line and exit status 2, and leaves nothing behind: a missing,
# forbidden or PVM /dev/kvm, bad kernel and initrd files, bad --mem/--cpus, unknown options, and a
# NIC that fails after another was created (its tap must be gone).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

K=$GUEST_KERNEL I=$GUEST_INITRD
# bad NAME PATTERN MINIVMM-ARGS...: exit 2 and exactly one line matching PATTERN on stderr.
bad() {
	local name=$1 pat=$2 rc=0 err
	shift 2
	err=$("$@" 2>&1 >/dev/null </dev/null) || rc=$?
	if [ "$rc" -ne 2 ]; then
		fail "$name" "exit $rc, want 2 (stderr: $err)"
	elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! grep -qE -- "^minivmm: .*$pat" <<<"$err"; then
		fail "$name" "stderr not one line matching /$pat/: $err"
	else
		pass "$name"
	fi
}
V=$MINIVMM

bad no_dev_kvm '/dev/kvm does not exist' unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" "$@"' \
	"$V" --kernel "$K" --net none
bad dev_kvm_permission 'no permission to open /dev/kvm' setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$V" --kernel "$K" --net none
bad dev_kvm_is_pvm 'PVM \(kvm_pvm\).*cannot run unmodified kernels.*test host' unshare -m sh -c \
	'mount -t tmpfs none /sys/module && mkdir /sys/module/kvm_pvm && exec "$0" "$@"' "$V" --kernel "$K" --net none
bad kernel_missing 'cannot open kernel /nonexistent' "$V" --kernel /nonexistent --net none
bad kernel_not_bzimage 'neither a bzImage nor an ELF' "$V" --kernel /etc/passwd --net none
old=$RESULTS/old-bzimage
head -c 8192 /dev/zero >"$old"
printf '\x01' | dd of="$old" bs=1 seek=$((0x1f1)) conv=notrunc 2>/dev/null
printf '\x55\xaa' | dd of="$old" bs=1 seek=$((0x1fe)) conv=notrunc 2>/dev/null
printf '\xeb\x60HdrS\x01\x02' | dd of="$old" bs=1 seek=$((0x200)) conv=notrunc 2>/dev/null
bad kernel_boot_protocol_too_old 'boot protocol 2\.01.*2\.06' "$V" --kernel "$old" --net none
bad initrd_missing 'initrd /nonexistent' "$V" --kernel "$K" --initrd /nonexistent --net none
big=$RESULTS/big-initrd
truncate -s 200M "$big"
bad initrd_too_big 'initrd.*(does not fit|too big)' "$V" --kernel "$K" --initrd "$big" --mem 128M --net none
rm -f "$big"
bad mem_malformed '--mem: "12Q" is not a size' "$V" --kernel "$K" --mem 12Q
bad mem_out_of_range '--mem: "16M" is out of range' "$V" --kernel "$K" --mem 16M
bad cpus_malformed '--cpus: "two" is not a number' "$V" --kernel "$K" --cpus two
bad cpus_out_of_range '--cpus: "65" is out of range' "$V" --kernel "$K" --cpus 65
bad unknown_option 'unknown option "--frobnicate"' "$V" --kernel "$K" --frobnicate
bad net_bad_spec '--net' "$V" --kernel "$K" --net tap,mtu=12
bad net_queues_0 '--net: queues=0 is not in 1\.\.16' "$V" --kernel "$K" --net tap,queues=0
bad net_queues_17 '--net: queues=17 is not in 1\.\.16' "$V" --kernel "$K" --net tap,queues=17
bad net_user_queues_2 'user networking has one queue pair' "$V" --kernel "$K" --net user,queues=2
# queues=2 on an existing tap that is not multi_queue: refused, and the tap is left as it was
# (there, and not attached: its carrier is down).
ip tuntap add dev mvsq0 mode tap && on_exit ip link del mvsq0
ip link set mvsq0 up
bad net_queues_2_single_queue_tap 'queues=2 needs a multi-queue tap, and mvsq0 is not one' "$V" --kernel "$K" \
	--initrd "$I" --net tap,ifname=mvsq0,queues=2
carrier=$(cat /sys/class/net/mvsq0/carrier 2>&1)
if [ "$carrier" = 0 ]; then pass net_queues_2_single_queue_tap_left_alone
else fail net_queues_2_single_queue_tap_left_alone "mvsq0 carrier '$carrier'"; fi

# vhost=on needs /dev/vhost-net: minivmm in a mount namespace whose /dev has only kvm, tun and
# null stands in for a host without it.
novhost=$RESULTS/minivmm-without-vhost-net
cat >"$novhost" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount -t tmpfs none /dev && mkdir /dev/net && mknod /dev/kvm c 10 232 &&
	mknod /dev/net/tun c 10 200 && mknod /dev/null c 1 3 && exec "\$0" "\$@"' "$V" "\$@"
EOF
chmod +x "$novhost"
bad vhost_on_without_vhost_net 'vhost=on: cannot open /dev/vhost-net' "$novhost" --kernel "$K" --initrd "$I" \
	--net tap,ifname=mvnov0,vhost=on
boot_guest --log vhost-auto-fallback --vmm "$novhost" -- --net tap,ifname=mvauto0,vhost=auto
expect vhost_auto_warns_and_falls_back 'warning: --net tap,vhost=auto: cannot open /dev/vhost-net.*userspace datapath'
expect vhost_auto_guest_boots '^MINIVMM-SCENARIO-DONE'
check vhost_auto_exit_0 test "$GUEST_RC" -eq 0

# A failure after the taps were opened leaves nothing behind: a tap minivmm created is gone (it
# never makes one persistent; with queues=2 every queue's fd must be closed for that), and a persistent tap someone else made (mvkeep0) is still there and
# no longer attached: its carrier drops when the last file descriptor on it is closed, so a
# leftover minivmm process or a leaked descriptor (a forked child, say) would show.
nc -l 127.0.0.1 47001 >/dev/null 2>&1 &
holder=$!
on_exit kill "$holder"
ip tuntap add dev mvkeep0 mode tap && on_exit ip link del mvkeep0
ip link set mvkeep0 up
for _ in $(seq 50); do ss -Hltn 'sport = :47001' | grep -q . && break; sleep 0.1; done
bad hostfwd_port_in_use 'hostfwd.*47001' "$V" --kernel "$K" --initrd "$I" --net tap,ifname=mvleft0,queues=2 \
	--net tap,ifname=mvkeep0 --net user,hostfwd=tcp:127.0.0.1:47001-:22
if ip link show mvleft0 >/dev/null 2>&1; then fail nothing_left_behind_own_tap "mvleft0 still exists"; else pass nothing_left_behind_own_tap; fi
check nothing_left_behind_persistent_tap_kept ip link show mvkeep0
carrier=$(cat /sys/class/net/mvkeep0/carrier 2>&1)
if [ "$carrier" = 0 ]; then pass nothing_left_behind_persistent_tap_released
else fail nothing_left_behind_persistent_tap_released "mvkeep0 carrier '$carrier': still attached"; fi
# Too few file descriptors (ulimit -n 4, 5, ...): whichever setup step runs out first (/dev/kvm,
# the VM, a vCPU, the main loop's signalfd/epoll/eventfds), minivmm exits 2 with one line, until
# the limit is enough and the guest runs. One of the limits fails in the main loop's setup.
fd_fail='' fd_loop='' fd_ran=''
for n in $(seq 4 64); do
	log=$RESULTS/ulimit-$n.log rc=0
	(ulimit -n "$n" && exec timeout -k 5 120 "$V" --kernel "$K" --initrd "$I" --net none \
		--append "console=ttyS0 reboot=k panic=-1 quiet minivmm.scenario=boot") </dev/null >"$log" 2>"$log.err" || rc=$?
	if grep -q '^MINIVMM-GUEST-UP' "$log"; then fd_ran=$n; break; fi
	if [ "$rc" -ne 2 ] || [ "$(wc -l <"$log.err")" -ne 1 ]; then
		fd_fail="ulimit -n $n: exit $rc, stderr: $(head -c 300 "$log.err")"
		break
	fi
	grep -q 'cannot set up the main loop' "$log.err" && fd_loop=$n
done
if [ -z "$fd_fail" ] && [ -n "$fd_ran" ]; then pass fd_limit_setup_failures_exit_2; else fail fd_limit_setup_failures_exit_2 "${fd_fail:-the guest never ran}"; fi
if [ -n "$fd_loop" ]; then pass fd_limit_main_loop_failure_exits_2; else fail fd_limit_main_loop_failure_exits_2 "no limit failed in the main loop's setup (${fd_fail:-ran at $fd_ran})"; fi
e2e_finish

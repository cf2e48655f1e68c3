#!/usr/bin/env bash
# e2e: "your own kernel" as README documents it: Debian's generic kernel (linux-image-amd64, the
# test host's, standing in for any installed kernel) wrapped by `guest/build.sh --kernel --modules`,
# booted with --net user: the guest runs that kernel, loads its own virtio modules, gets a DHCP
# lease, fetches a file from the host, answers a hostfwd'ed connection and powers off (exit 0).
# e2e-timeout: 900
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

# build/own-kernel: Debian's generic kernel unpacked as if installed, and build/e2e-own-guest: README's
# `guest/build.sh --kernel --modules` around it (tests/e2e/own-kernel.sh, which run.sh runs before
# the scenarios, outside the test host: under TCG the wrap's compiles alone outlast the watchdog).
kroot=$BUILD/own-kernel own=$BUILD/e2e-own-guest
ver=$(ls "$kroot/lib/modules" 2>/dev/null | head -n1)
if [ -z "$ver" ] || [ ! -f "$kroot/boot/vmlinuz-$ver" ]; then
	fail own_kernel_installed "no kernel in $kroot (tests/e2e/own-kernel.sh makes it)"
	e2e_finish
fi
wrap_rc=$(cat "$BUILD/e2e-own-guest.rc" 2>/dev/null || echo none)
if [ "$wrap_rc" = 0 ] && [ -s "$own/initrd.img" ] && cmp -s "$own/vmlinuz" "$kroot/boot/vmlinuz-$ver"; then
	pass own_kernel_initramfs_builds
else
	fail own_kernel_initramfs_builds "status $wrap_rc: $(tail -n 3 "$BUILD/e2e-own-guest.log" 2>/dev/null)"
	e2e_finish
fi
GUEST_KERNEL=$own/vmlinuz GUEST_INITRD=$own/initrd.img

PORT=47180 FWD=47122
file=$RESULTS/payload
head -c 262144 /dev/urandom >"$file"
want=$(md5sum <"$file" | cut -d' ' -f1)
socat TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork SYSTEM:"cat $file" &
on_exit kill $!

# loglevel=6 after "quiet": the kernel's "Linux version" banner shows which kernel ran.
boot_guest_bg --log own-kernel --scenario user --args "full,$PORT" --append loglevel=6 --timeout 400 -- \
	--mem 512M --net "user,hostfwd=tcp:127.0.0.1:$FWD-:8022"
# The guest scenario waits for one connection through the hostfwd rule; that the host-side line
# arrived is checked in the guest's log (the reply's timing under TCG is not this test's subject).
if wait_for_log '^MINIVMM-USER-LISTENING' 350; then
	echo host-hello | timeout 60 socat -t 30 - TCP:127.0.0.1:$FWD >"$RESULTS/hostfwd.out" 2>&1
else
	fail own_kernel_hostfwd "guest never listened"
fi
wait_guest
expect own_kernel_hostfwd '^MINIVMM-USER-FWD-GOT host-hello'
expect own_kernel_is_the_generic_one "Linux version ${ver//./\\.} "
expect own_kernel_modules_load '^MINIVMM-GUEST-UP '
if expect_in_log 'MINIVMM-GUEST: insmod .* failed'; then
	fail own_kernel_modules_load_cleanly "an insmod failed"
else
	pass own_kernel_modules_load_cleanly
fi
expect own_kernel_dhcp '^MINIVMM-USER-ADDR 10\.0\.2\.15/24'
expect own_kernel_fetch_from_host "^MINIVMM-USER-FETCHED $want 262144"
expect own_kernel_scenario_done '^MINIVMM-SCENARIO-DONE'
check own_kernel_exit_status_0 test "$GUEST_RC" -eq 0
e2e_finish

#!/usr/bin/env bash
# The nested test host: a TCG QEMU VM whose kernel has real KVM (nested SVM) and vhost-net, used
# to run e2e scenarios where this machine's /dev/kvm cannot (PVM). It sees this machine's root
# read-only over 9p and one writable results directory at the same path.
#
#   testhost.sh build                       build build/testhost/{vmlinuz,vmlinux,initrd.img} if stale
#   testhost.sh run [-i] [-t SECS] [-o DIR] CMD [ARGS...]
#       boot the test host, run CMD ARGS (a host path; run from the current directory) as root in
#       a chroot of this machine's root, with fresh /proc /sys /dev /tmp /run; DIR (default
#       build/e2e/<CMD's name>) is writable inside and exported as $MINIVMM_RESULTS.
#       Kept in DIR: console.log (the test host's serial console), output (CMD's stdout+stderr).
#       Environment variables E2E_*, GUEST_*, MINIVMM* and BENCH_* pass through to CMD.
#       Exits with CMD's status; 124 if the test host hung past SECS (default 600), 125 if CMD
#       never ran. -i: interactive, CMD gets the terminal (no timeout unless -t is given).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
th=$build/testhost
# shellcheck source=../../tools/initramfs.sh
. "$src/tools/initramfs.sh"

META=linux-image-amd64
MODULES=(virtio_pci 9pnet_virtio 9p kvm ccp kvm-amd tun tap vhost vhost_iotlb vhost_net bridge veth)

testhost_build() {
	local stamp kroot root
	stamp=$(build_stamp "$META" "$src/tests/e2e/testhost.sh" "$src/tests/e2e/testhost-init" \
		"$src/tools/initramfs.sh" /bin/busybox)
	if build_is_current "$th" "$stamp"; then
		return 0
	fi
	echo "testhost: building $th" >&2
	mkdir -p "$th"
	kroot=$th/kernel-root
	kernel_install "$META" "$build/debs" "$kroot" "$th"
	root=$th/initrd-root
	initramfs_skeleton "$root"
	initramfs_add_modules "$root" "$kroot" "${MODULES[@]}"
	install -m 755 "$src/tests/e2e/testhost-init" "$root/init"
	initramfs_pack "$root" "$th/initrd.img"
	rm -rf "$kroot" "$root"
	build_mark_current "$th" "$stamp"
}

testhost_run() {
	local interactive='' secs='' out='' OPTIND=1 opt
	while getopts "it:o:" opt; do
		case $opt in
		i) interactive=1 ;;
		t) secs=$OPTARG ;;
		o) out=$OPTARG ;;
		*) exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -ge 1 ] || { echo "usage: testhost.sh run [-i] [-t SECS] [-o DIR] CMD [ARGS...]" >&2; exit 2; }
	local cmd
	cmd=$(realpath "$1")
	shift
	[ -n "$out" ] || out=$build/e2e/$(basename "${cmd%.sh}")
	[ -n "$interactive" ] || secs=${secs:-600}
	mkdir -p "$out"
	out=$(realpath "$out")
	testhost_build
	rm -rf "$out/.testhost"
	mkdir -p "$out/.testhost"
	rm -f "$out/console.log" "$out/output"
	# The wrapper runs inside the chroot: same directory, a clean known environment.
	{
		echo "#!/bin/bash"
		printf 'cd %q || exit 125\n' "$PWD"
		echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		echo "export HOME=/root TERM=${TERM:-linux} LANG=C.UTF-8 MINIVMM_IN_TESTHOST=1"
		printf 'export MINIVMM_RESULTS=%q\n' "$out"
		[ -z "${BUILD:-}" ] || printf 'export BUILD=%q\n' "$BUILD"
		# Knobs pass through: E2E_*, GUEST_*, MINIVMM* (harness, scenarios), BENCH_* (bench).
		local v
		for v in $(compgen -e | grep -E '^(E2E_|GUEST_|MINIVMM|BENCH_)' | grep -vx 'MINIVMM_RESULTS'); do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
		printf '%q ' "$cmd" "$@"
		echo
		printf 'echo $? >%q\n' "$out/.testhost/rc"
	} >"$out/.testhost/run"

	# The ELF vmlinux boots through PVH, skipping seconds of TCG-emulated decompression.
	local kernel=$th/vmlinuz
	[ ! -f "$th/vmlinux" ] || kernel=$th/vmlinux
	# shellcheck disable=SC2054 # commas belong to QEMU options
	local qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 -nic none
		-no-reboot -kernel "$kernel" -initrd "$th/initrd.img"
		-virtfs "local,path=/,mount_tag=hostroot,readonly=on,multidevs=remap,security_model=none"
		-virtfs "local,path=$out,mount_tag=results,security_model=none")
	local append="console=ttyS0 panic=-1 loglevel=4 testhost.out=$out testhost.src=$src"
	local rc=0 start=$SECONDS
	if [ -n "$interactive" ]; then
		local to=()
		[ -z "$secs" ] || to=(timeout --foreground -k 10 "$secs")
		"${to[@]}" "${qemu[@]}" -nographic -append "$append testhost.interactive=1" || rc=$?
	else
		timeout -k 10 "$secs" "${qemu[@]}" -display none -monitor none \
			-serial "file:$out/console.log" -append "$append" </dev/null || rc=$?
	fi
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "testhost: hung, killed after ${secs}s; console: $out/console.log" >&2
		return 124
	elif [ $rc -ne 0 ]; then
		echo "testhost: qemu failed ($rc); console: $out/console.log" >&2
		return 125
	fi
	if [ ! -s "$out/.testhost/rc" ]; then
		echo "testhost: $cmd never finished; console: $out/console.log" >&2
		return 125
	fi
	rc=$(cat "$out/.testhost/rc")
	[ -n "$interactive" ] || echo "testhost: $(basename "$cmd") exited $rc after $((SECONDS - start))s" >&2
	return "$rc"
}

case "${1:-}" in
build) testhost_build ;;
run) shift; testhost_run "$@" ;;
*) echo "usage: testhost.sh build | run [-i] [-t SECS] [-o DIR] CMD [ARGS...]" >&2; exit 2 ;;
esac

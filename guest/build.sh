#!/usr/bin/env bash
# Builds the test guest: build/guest/vmlinuz (Debian's cloud kernel; vmlinux: the same, an
# uncompressed ELF) and build/guest/initrd.img
# (busybox, virtio-net modules and pktgen, iperf3/ethtool/lspci/ip, guest/init,
# guest/scenarios/*.sh, and guest/hostile: a malicious virtio-net driver for
# tests/e2e/hostile.sh), and build/guest/initrd-bench.img: the same plus sockperf
# (the test guest only, not --kernel's).
# Rebuilt only when an input changes (this script, init, scenarios, the kernel package, tools).
#
# Your own kernel: guest/build.sh --kernel VMLINUZ --modules /lib/modules/VERSION [--out DIR]
# builds the same initramfs around any x86-64 kernel (bzImage or ELF vmlinux) and its modules
# directory: DIR/vmlinuz (a copy of VMLINUZ) and DIR/initrd.img (default DIR: build/own-guest).
# The initramfs gets virtio_pci, virtio_net and what modules.dep says they need; modules built
# into the kernel are skipped. Without modules.dep in the directory, depmod makes one (the
# directory must then be writable and sit in .../lib/modules/VERSION). Always rebuilt.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${BUILD:-$src/build}/guest
debs=${BUILD:-$src/build}/debs
# shellcheck source=../tools/initramfs.sh
. "$src/tools/initramfs.sh"

META=linux-image-cloud-amd64
MODULES=(virtio_pci virtio_net virtio_pci_modern_dev virtio_pci_legacy_dev button evdev)
# Where the kernel has them: pktgen, the bench's small-packet TX source (tests/bench/bench.sh).
OPTIONAL_MODULES=(pktgen)
TOOLS=(/usr/bin/iperf3 /usr/sbin/ethtool /usr/bin/lspci /usr/sbin/ip /usr/bin/socat)
# Only in initrd-bench.img (the bench's guest): initrd.img with a second archive appended that
# adds these (6 MiB that every other boot would unpack for nothing).
BENCH_TOOLS=(/usr/bin/sockperf)

own_kernel='' own_modules=''
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) own_kernel=${2:?--kernel needs a file}; shift 2 ;;
	--modules) own_modules=${2:?--modules needs a directory}; shift 2 ;;
	--out) out=${2:?--out needs a directory}; out_set=1; shift 2 ;;
	*) echo "guest/build.sh: unknown argument $1 (--kernel FILE --modules DIR [--out DIR])" >&2; exit 2 ;;
	esac
done
if [ -n "$own_kernel$own_modules" ]; then
	[ -f "$own_kernel" ] || { echo "guest/build.sh: --kernel: no file '$own_kernel'" >&2; exit 2; }
	[ -d "$own_modules" ] || { echo "guest/build.sh: --modules: no directory '$own_modules'" >&2; exit 2; }
	[ -n "${out_set:-}" ] || out=${BUILD:-$src/build}/own-guest
	mdir=$(cd "$own_modules" && pwd)
	if [ ! -f "$mdir/modules.dep" ]; then
		base=${mdir%/lib/modules/*}
		[ "$base" != "$mdir" ] || { echo "guest/build.sh: $mdir has no modules.dep and is not under lib/modules/" >&2; exit 2; }
		depmod -b "$base" "$(basename "$mdir")"
	fi
	echo "guest: building $out around $own_kernel" >&2
	mkdir -p "$out"
	cp "$own_kernel" "$out/vmlinuz"
	KPKG="$(basename "$own_kernel") ($mdir)"
	kroot=$mdir
else
	stamp=$(build_stamp "$META" "$src/guest/build.sh" "$src/guest/init" "$src/guest/scenarios" \
		"$src/guest/bootmark.c" "$src/guest/powerbtn.c" "$src/guest/hostile" "$src/guest/udhcpc.script" "$src/tools/initramfs.sh" \
		"${TOOLS[@]}" "${BENCH_TOOLS[@]}" /bin/busybox)
	if build_is_current "$out" "$stamp"; then
		exit 0
	fi
	echo "guest: building $out" >&2
	mkdir -p "$out"
	kroot=$out/kernel-root
	kernel_install "$META" "$debs" "$kroot" "$out"
fi

root=$out/initrd-root
initramfs_skeleton "$root"
initramfs_add_modules "$root" "$kroot" "${MODULES[@]}"
for m in "${OPTIONAL_MODULES[@]}"; do
	if grep -qsE "/$m\.ko" "$kroot/modules.dep" "$kroot"/lib/modules/*/modules.dep; then
		initramfs_add_modules "$root" "$kroot" "$m"
	fi
done
initramfs_add_bin "$root" "${TOOLS[@]}" /usr/bin/dash
# busybox's sh runs its own applets before PATH (ip, lspci), so scripts get dash as /bin/sh and
# the interactive ash gets aliases; the real tools' applet links go.
ln -sf /usr/bin/dash "$root/bin/sh"
for t in "${TOOLS[@]}"; do rm -f "$root/bin/$(basename "$t")"; done
{
	echo 'export PS1="guest# "'
	for t in "${TOOLS[@]}"; do echo "alias $(basename "$t")=$t"; done
} >"$root/etc/profile"
mkdir -p "$root/usr/share/misc" "$root/scenarios"
cp /usr/share/misc/pci.ids "$root/usr/share/misc/"
cp "$src"/guest/scenarios/*.sh "$root/scenarios/"
cp -r "$src/guest/scenarios/lib" "$root/scenarios/"
install -m 755 "$src/guest/init" "$root/init"
install -m 755 "$src/guest/udhcpc.script" "$root/etc/udhcpc.script"
cc -static -Os -Wall -Werror -I"$src" -o "$root/bin/bootmark" "$src/guest/bootmark.c"
cc -static -Os -Wall -Werror -o "$root/bin/powerbtn" "$src/guest/powerbtn.c"
cc -static -O2 -Wall -Wextra -Werror -o "$root/bin/hostile" "$src/guest/hostile/hostile.c"
echo "$KPKG" >"$root/etc/minivmm-kernel"
initramfs_pack "$root" "$out/initrd.img"
if [ -n "$own_kernel" ]; then
	rm -rf "$root"
	echo "guest: $KPKG, initrd $(du -k "$out/initrd.img" | cut -f1) KiB; boot it with:" >&2
	echo "  minivmm --kernel $out/vmlinuz --initrd $out/initrd.img --append 'console=ttyS0 reboot=k panic=-1'" >&2
	exit 0
fi
# The bench's guest (the test guest only). The kernel unpacks concatenated archives in turn; the
# second one holds only what the first lacks (a hard-linked copy of the first's tree, minus the
# files still linked to it).
cp -al "$root" "$root.bench"
initramfs_add_bin "$root.bench" "${BENCH_TOOLS[@]}"
find "$root.bench" ! -type d -links +1 -delete
initramfs_pack "$root.bench" "$out/bench-tools.img"
cat "$out/initrd.img" "$out/bench-tools.img" >"$out/initrd-bench.img"
rm -rf "$root" "$root.bench" "$out/bench-tools.img"
rm -rf "$kroot"
build_mark_current "$out" "$stamp"
echo "guest: $KPKG, initrd $(du -k "$out/initrd.img" | cut -f1) KiB" >&2

#!/usr/bin/env bash
# Builds the test guest: build/guest/vmlinuz (Debian's cloud kernel; vmlinux: the same, an
# uncompressed ELF) and build/guest/initrd.img
# (busybox, virtio-net modules, iperf3/ethtool/lspci/ip, guest/init, guest/scenarios/*.sh, and
# guest/hostile: a malicious virtio-net driver for tests/e2e/scenarios/60-hostile.sh).
# Rebuilt only when an input changes (this script, init, scenarios, the kernel package, tools).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${BUILD:-$src/build}/guest
debs=${BUILD:-$src/build}/debs
# shellcheck source=../tools/initramfs.sh
. "$src/tools/initramfs.sh"

META=linux-image-cloud-amd64
MODULES=(virtio_pci virtio_net virtio_pci_modern_dev virtio_pci_legacy_dev)
TOOLS=(/usr/bin/iperf3 /usr/sbin/ethtool /usr/bin/lspci /usr/sbin/ip /usr/bin/socat)

stamp=$(build_stamp "$META" "$src/guest/build.sh" "$src/guest/init" "$src/guest/scenarios" \
	"$src/guest/bootmark.c" "$src/guest/hostile" "$src/guest/udhcpc.script" "$src/tools/initramfs.sh" "${TOOLS[@]}" /bin/busybox)
if build_is_current "$out" "$stamp"; then
	exit 0
fi
echo "guest: building $out" >&2
mkdir -p "$out"
kroot=$out/kernel-root
kernel_install "$META" "$debs" "$kroot" "$out"

root=$out/initrd-root
initramfs_skeleton "$root"
initramfs_add_modules "$root" "$kroot" "${MODULES[@]}"
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
cc -static -O2 -Wall -Wextra -Werror -o "$root/bin/hostile" "$src/guest/hostile/hostile.c"
echo "$KPKG" >"$root/etc/minivmm-kernel"
initramfs_pack "$root" "$out/initrd.img"
rm -rf "$kroot" "$root"
build_mark_current "$out" "$stamp"
echo "guest: $KPKG, initrd $(du -k "$out/initrd.img" | cut -f1) KiB" >&2

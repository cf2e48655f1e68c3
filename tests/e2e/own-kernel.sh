#!/usr/bin/env bash
# The kernel e2e scenario 15-own-kernel boots as "your own kernel" (README): Debian's generic
# kernel (linux-image-amd64, the test host's package, already in build/debs) unpacked the way a
# kernel is installed: build/own-kernel/boot/vmlinuz-VER and build/own-kernel/lib/modules/VER
# with its modules.dep. tests/e2e/run.sh runs this on this machine before any scenario: inside
# the test host the tree is read-only, and unpacking 400 MB under TCG takes many minutes.
# Unpacks only when missing or when the package changed.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
out=$build/own-kernel
# shellcheck source=../../tools/initramfs.sh
. "$src/tools/initramfs.sh"

META=linux-image-amd64
want=$(kpkg_version "$META")
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$want" ]; then
	exit 0
fi
echo "own-kernel: unpacking $META into $out" >&2
kpkg_fetch "$META" "$build/debs" "$out"
echo "$want" >"$out/.stamp"

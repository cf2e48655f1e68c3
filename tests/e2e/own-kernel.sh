#!/usr/bin/env bash
# The kernel e2e scenario 15-own-kernel boots as "your own kernel" (README): Debian's generic
# kernel (linux-image-amd64, the test host's package, already in build/debs) unpacked the way a
# kernel is installed: build/own-kernel/boot/vmlinuz-VER and build/own-kernel/lib/modules/VER
# with its modules.dep; then README's command wraps it, `guest/build.sh --kernel --modules`, into
# build/e2e-own-guest/ (not README's default build/own-guest/, which is the user's); its output
# goes to e2e-own-guest.log and its exit status to e2e-own-guest.rc, which the scenario checks.
# tests/e2e/run.sh runs this on this machine before any scenario: inside the
# test host the tree is read-only, and unpacking 400 MB or compiling the guest's tools under TCG
# takes minutes. Unpacks only when missing or when the package changed. Exits non-zero only when
# the kernel cannot be had; a failed wrap is the scenario's failure to report.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
out=$build/own-kernel
# shellcheck source=../../tools/initramfs.sh
. "$src/tools/initramfs.sh"

META=linux-image-amd64
want=$(kpkg_version "$META")
if [ ! -f "$out/.stamp" ] || [ "$(cat "$out/.stamp")" != "$want" ]; then
	echo "own-kernel: unpacking $META into $out" >&2
	kpkg_fetch "$META" "$build/debs" "$out"
	echo "$want" >"$out/.stamp"
fi
ver=$(ls "$out/lib/modules" | head -n1)
rc=0
"$src/guest/build.sh" --kernel "$out/boot/vmlinuz-$ver" --modules "$out/lib/modules/$ver" \
	--out "$build/e2e-own-guest" >"$build/e2e-own-guest.log" 2>&1 || rc=$?
echo "$rc" >"$build/e2e-own-guest.rc"

#!/usr/bin/env bash
# `make run`: boots the test guest under minivmm with its console on this terminal (the guest
# gives a shell; `poweroff -f` ends it). Extra arguments go to minivmm, after the defaults.
# Where this machine's /dev/kvm cannot run stock kernels (PVM), minivmm runs inside the nested
# test host (tests/e2e/testhost.sh); QEMU's Ctrl-A x leaves it.
#   MINIVMM=PATH overrides build/minivmm; RUN_APPEND overrides the guest's kernel command line.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build}
vmm=$(realpath "${MINIVMM:-$build/minivmm}")
cmd=(--kernel "$build/guest/vmlinuz" --initrd "$build/guest/initrd.img"
	--append "${RUN_APPEND:-console=ttyS0 reboot=k panic=-1}" "$@")
[ -x "$vmm" ] || { echo "run: no $vmm (make all)" >&2; exit 1; }
"$src/guest/build.sh"

# shellcheck source=hostrun.sh
. "$src/tools/hostrun.sh"
if [ "$(hostrun_mode "")" = direct ]; then
	exec "$vmm" "${cmd[@]}"
fi
# The test host sees this tree read-only, so the command it runs is written here first.
mkdir -p "$build/run"
{
	echo "#!/bin/bash"
	printf '%q ' exec "$vmm" "${cmd[@]}"
	echo
} >"$build/run/minivmm.sh"
chmod +x "$build/run/minivmm.sh"
echo "run: minivmm inside the test host (this /dev/kvm is PVM); Ctrl-A x quits QEMU" >&2
exec "$src/tests/e2e/testhost.sh" run -i -o "$build/run" "$build/run/minivmm.sh"

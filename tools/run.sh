#!/usr/bin/env bash
# `make run` (`make run ARGS="..."`): boots the test guest under minivmm with its console on this
# terminal (the guest gives a shell; `poweroff -f` ends it). The arguments are minivmm options,
# any of them: --kernel, --initrd and --append default to the test guest's
# (build/guest/vmlinuz, build/guest/initrd.img, "console=ttyS0 reboot=k panic=-1") only when not
# given. Where this machine's /dev/kvm cannot run stock kernels (PVM), minivmm runs inside the
# nested test host (tests/e2e/testhost.sh); QEMU's Ctrl-A x leaves it.
#   MINIVMM=PATH overrides build/minivmm; RUN_APPEND overrides the default command line.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build}
vmm=$(realpath "${MINIVMM:-$build/minivmm}")
[ -x "$vmm" ] || { echo "run: no $vmm (make all)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run: needs root (taps, namespaces, /dev/kvm or the test host)" >&2; exit 1; }

# Which of the defaulted options the caller gave (as "--opt VALUE" or "--opt=VALUE").
given=' '
for a in "$@"; do
	case $a in
	--kernel | --kernel=*) given+='kernel ' ;;
	--initrd | --initrd=*) given+='initrd ' ;;
	--append | --append=*) given+='append ' ;;
	esac
done
cmd=()
[[ $given == *' kernel '* ]] || cmd+=(--kernel "$build/guest/vmlinuz")
[[ $given == *' initrd '* ]] || cmd+=(--initrd "$build/guest/initrd.img")
[[ $given == *' append '* ]] || cmd+=(--append "${RUN_APPEND:-console=ttyS0 reboot=k panic=-1}")
cmd+=("$@")
# The test guest is built only when one of its files is used.
if [[ $given != *' kernel '* ]] || [[ $given != *' initrd '* ]]; then
	"$src/guest/build.sh"
fi
if [ -n "${RUN_DRY:-}" ]; then
	# For tests: the command line minivmm would get, one argument a line.
	printf '%s\n' "$vmm" "${cmd[@]}"
	exit 0
fi

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
if [ -c /dev/kvm ]; then why="this /dev/kvm is PVM (kvm_pvm), which cannot run stock kernels"; else why="no /dev/kvm here"; fi
echo "run: $why: minivmm runs inside the nested TCG test host (slow, about 60x); Ctrl-A x quits QEMU" >&2
exec "$src/tests/e2e/testhost.sh" run -i -o "$build/run" "$build/run/minivmm.sh"

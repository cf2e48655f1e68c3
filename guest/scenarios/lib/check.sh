# shellcheck shell=sh
# Sourced by guest scenarios (/scenarios/lib/check.sh in the guest).
#   check NAME CMD...   runs CMD and prints "MINIVMM-CHECK NAME ok|fail" (with the last lines of
#                       its output when it failed), which the host-side scenario turns into results
check() {
	name=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then
		echo "MINIVMM-CHECK $name ok"
	else
		echo "MINIVMM-CHECK $name fail"
		tail -n 5 /tmp/check.out
	fi
}

#!/usr/bin/env bash
# make test's stages after the build, one after another: unit, check-docs and fuzz-ci (each
# builds its binaries first), then the e2e suite alone on the machine. Alone, because the TCG
# test host runs two scenarios at a time on both cores: beside a compiler its guests ran at half
# speed and met the test host's emulation faults (tests/e2e/README.md, "The remedy").
# Each stage says how long it took. Fails if any stage failed; every stage runs regardless.
set -u
make=${MAKE:-make}
stage() {
	local name=$1 s rc=0
	shift
	s=$(date +%s)
	"$@" || rc=$?
	echo "make test: $name: $(($(date +%s) - s)) s$([ "$rc" -eq 0 ] || echo ", FAILED ($rc)")"
	return "$rc"
}
rc=0
stage unit "$make" --no-print-directory -j"$(nproc)" unit || rc=1
stage check-docs "$make" --no-print-directory check-docs || rc=1
stage fuzz-ci "$make" --no-print-directory -j"$(nproc)" fuzz-ci || rc=1
stage e2e "$make" --no-print-directory e2e E2E_PREPARED=1 || rc=1
exit "$rc"

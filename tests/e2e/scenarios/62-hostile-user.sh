#!/usr/bin/env bash
# e2e: a hostile guest cannot hang, crash or flood minivmm (issue #8), on user networking (libslirp).
# What is attacked and checked: tests/e2e/hostile.sh.
# e2e-timeout: 600
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"
. "$(dirname "$0")/../hostile.sh"
hostile_setup
hostile_case user $((SEED + 2)) "user,hostfwd=udp:127.0.0.1:$UDP_FWD-:9" dhcp 10.0.2.2 "$MINIVMM"
e2e_finish

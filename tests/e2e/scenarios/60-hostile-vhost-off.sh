#!/usr/bin/env bash
# e2e: a hostile guest cannot hang, crash or flood minivmm (issue #8), on tap vhost=off, with the
# ASan/UBSan build (the most device code runs in minivmm).
# What is attacked and checked: tests/e2e/hostile.sh.
# e2e-timeout: 600
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"
. "$(dirname "$0")/../hostile.sh"
hostile_setup
hostile_case vhost-off $((SEED)) "tap,ifname=mvhtap0,vhost=off" "$GUEST_A" "$HOST_A" "$MINIVMM_SAN"
e2e_finish

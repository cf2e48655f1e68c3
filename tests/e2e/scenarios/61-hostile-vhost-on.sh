#!/usr/bin/env bash
# e2e: a hostile guest cannot hang, crash or flood minivmm (issue #8), on tap vhost=on.
# What is attacked and checked: tests/e2e/hostile.sh.
# e2e-timeout: 600
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"
. "$(dirname "$0")/../hostile.sh"
hostile_setup
hostile_case vhost-on $((SEED + 1)) "tap,ifname=mvhtap0,vhost=on" "$GUEST_A" "$HOST_A" "$MINIVMM"
e2e_finish

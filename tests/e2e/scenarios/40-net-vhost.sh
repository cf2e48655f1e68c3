#!/usr/bin/env bash
# e2e: guest networking over a tap with vhost=on: the device as lspci and
# ethtool see it, ping both ways at every frame size, iperf3 both ways, link down/up, driver reload.
# e2e-timeout: 900
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"
net_scenario on
e2e_finish

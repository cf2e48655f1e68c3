#!/usr/bin/env bash
# e2e: guest networking over a tap with vhost=off, INTx (pci=nomsi): the device as lspci and
# ethtool see it, ping both ways at every frame size, iperf3 both ways, link down/up, driver reload.
# e2e-timeout: 900
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../net.sh"
net_scenario off pci=nomsi
e2e_finish

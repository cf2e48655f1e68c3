#!/bin/sh
# Scenario "tools": the test tools run in the guest (used by the harness self-test).
set -e
iperf3 --version | head -n1
ethtool -i eth0
lspci -nn
ip -br addr

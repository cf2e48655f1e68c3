#!/bin/sh
# Scenario "boot": the guest came up; list its links (so the host can see the NIC) and finish.
ip -br link

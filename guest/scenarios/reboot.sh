#!/bin/sh
# Scenario "reboot": the guest reboots itself (reboot=k: the keyboard controller's reset line).
echo MINIVMM-REBOOTING
reboot -f

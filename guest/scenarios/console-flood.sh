#!/bin/sh
# Scenario "console-flood": CPU 1 prints to the console without pause while CPU 0 shows progress
# by writing minivmm's debug port over and over (one I/O exit each: vcpu0's io= in --stats).
# Never ends by itself: the host stops reading stdout, watches the counters and sends SIGTERM.
taskset -c 1 sh -c 'while :; do echo "MINIVMM-FLOOD 0123456789abcdefghijklmnopqrstuvwxyz 0123456789abcdefghijklmnopqrstuvwxyz"; done' &
echo MINIVMM-FLOOD-STARTED
exec taskset -c 0 sh -c 'while :; do /bin/bootmark; done'

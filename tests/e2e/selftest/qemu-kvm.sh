#!/usr/bin/env bash
# Harness self-test, no minivmm needed: the test host has KVM and vhost-net, and the test guest
# boots under QEMU+KVM there, reaching init and running its "boot" scenario.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

check testhost_has_dev_kvm test -c /dev/kvm
check testhost_has_dev_vhost_net test -c /dev/vhost-net
check testhost_has_dev_net_tun test -c /dev/net/tun

# QEMU stands in for minivmm: boot_guest's options, QEMU's command line.
qemu_vmm=$RESULTS/qemu-as-vmm
cat >"$qemu_vmm" <<'SH'
#!/bin/sh
# minivmm's --kernel/--initrd/--append mapped onto QEMU's
exec qemu-system-x86_64 -enable-kvm -cpu host -m 512 -nographic -nic none -no-reboot \
	-device virtio-net-pci,netdev=n0 -netdev user,id=n0 \
	-kernel "$2" -initrd "$4" -append "$6"
SH
chmod +x "$qemu_vmm"
boot_guest --vmm "$qemu_vmm" --timeout 120
echo "selftest: nested QEMU+guest ran ${GUEST_SECS}s (rc=$GUEST_RC); guest uptime at init:" \
	"$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/.*MINIVMM-GUEST-UP.*uptime=\([0-9.]*\).*/\1/p')s"
expect guest_reaches_init 'MINIVMM-GUEST-UP nproc=1 mem_kb=[0-9]+'
expect guest_runs_boot_scenario '^MINIVMM-SCENARIO-DONE'
expect guest_sees_virtio_net_nic '^eth0 '
check guest_exits_cleanly test "$GUEST_RC" -eq 0

boot_guest --vmm "$qemu_vmm" --timeout 120 --scenario tools
expect guest_runs_iperf3 '^iperf 3'
expect guest_runs_ethtool '^driver: virtio_net'
expect guest_runs_lspci 'Ethernet controller \[0200\]: Red Hat, Inc. Virtio network device'
expect guest_tools_scenario_completes '^MINIVMM-SCENARIO-DONE'
e2e_finish

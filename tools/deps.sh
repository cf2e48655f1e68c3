#!/usr/bin/env bash
# Installs the Debian packages in tools/deps.txt that are missing; silent when all are present.
# The nested test host (tests/e2e/testhost.sh) needs QEMU >= 10 (QEMU_MIN): Debian 12 (bookworm)
# ships 7.2, whose TCG stalls the test host about one run in eight, so on bookworm this adds the
# bookworm-backports suite (a .sources file signed by the Debian archive keyring) and installs
# qemu-system-x86 from it. Newer Debian releases have QEMU >= 10 in their main suite.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
QEMU_MIN=10
BACKPORTS=/etc/apt/sources.list.d/minivmm-backports.sources
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == *"ok installed"* ]]; }
qemu_major() { qemu-system-x86_64 --version 2>/dev/null | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p'; }

missing=()
while read -r p; do
	[ -n "$p" ] || continue
	installed "$p" || missing+=("$p")
done <"$here/deps.txt"
qemu_old=''
q=$(qemu_major)
[ -n "$q" ] && [ "$q" -ge $QEMU_MIN ] || qemu_old=1
[ ${#missing[@]} -eq 0 ] && [ -z "$qemu_old" ] && exit 0

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -n "$qemu_old" ] && [ "$codename" = bookworm ] &&
	! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "deps: adding the bookworm-backports suite ($BACKPORTS) for QEMU >= $QEMU_MIN" >&2
	printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
		'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
		$SUDO tee "$BACKPORTS" >/dev/null
fi
echo "deps: installing${missing[*]:+ ${missing[*]}}${qemu_old:+ qemu-system-x86 (>= $QEMU_MIN)}" >&2
$SUDO apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
q=$(qemu_major)
if [ -z "$q" ] || [ "$q" -lt $QEMU_MIN ]; then
	target=()
	[ "$codename" != bookworm ] || target=(-t bookworm-backports)
	$SUDO apt-get install -y -qq --no-install-recommends "${target[@]}" \
		qemu-system-x86 qemu-system-common qemu-system-data >&2
fi
q=$(qemu_major)
if [ -z "$q" ] || [ "$q" -lt $QEMU_MIN ]; then
	echo "deps: need QEMU >= $QEMU_MIN for the e2e test host, have: $(qemu-system-x86_64 --version 2>&1 | head -n1)" >&2
	exit 1
fi

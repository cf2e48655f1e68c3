#!/usr/bin/env python3
"""kvmtrace-decode.py SYSTEM_MAP TRACE [SLIDE]: the test host's KVM trace of a guest
(tests/e2e/kvmtrace.sh, .kvmtrace.gz or plain) with every guest kernel RIP named.

SYSTEM_MAP is the guest kernel's real System.map (Debian ships it in linux-image-VERSION-dbg,
/usr/lib/debug/boot/). The guest runs with KASLR, so its text is moved by a multiple of 2 MiB:
SLIDE (e.g. from the test host's "Unhandled WRMSR(0xc0010007)" line of the same guest, whose rIP
is native_write_msr_safe+4 unslid) or, without it, the slide that puts the most hlt/msr/io exit
RIPs into functions named for what they do. Prints the trace with " <symbol+off>" appended."""
import bisect
import gzip
import re
import sys

# Exit reasons (as KVM's SVM trace names them) and words their RIP's function names hold.
PLAUSIBLE = {'hlt': ('halt', 'idle'), 'msr': ('msr',), 'io': ('io', 'out', 'in', 'serial', 'pio')}
KERNEL = 0xffffffff80000000


def load_map(path):
    syms = []
    with open(path) as f:
        for line in f:
            a, t, n = line.split()[:3]
            if t in 'tTwW':
                syms.append((int(a, 16), n))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def name(addrs, names, a):
    i = bisect.bisect_right(addrs, a) - 1
    return '?' if i < 0 else '%s+0x%x' % (names[i], a - addrs[i])


def find_slide(addrs, names, lines):
    rips = {}
    for line in lines:
        m = re.search(r'reason (\w+) rip 0x([0-9a-f]+)', line)
        if m and m.group(1) in PLAUSIBLE and int(m.group(2), 16) >= KERNEL:
            rips.setdefault(m.group(1), set()).add(int(m.group(2), 16))
    best = (-1, 0)
    for slide in range(0, 0x40000000, 0x200000):
        score = sum(1 for k, v in rips.items() for r in v
                    if any(w in name(addrs, names, r - slide).split('+')[0] for w in PLAUSIBLE[k]))
        if score > best[0]:
            best = (score, slide)
    total = sum(len(v) for v in rips.values())
    print('# KASLR slide 0x%x: %d of %d distinct exit RIPs in plausible functions' % (best[1], best[0], total))
    return best[1]


def main():
    addrs, names = load_map(sys.argv[1])
    opener = gzip.open if sys.argv[2].endswith('.gz') else open
    with opener(sys.argv[2], 'rt', errors='replace') as f:
        lines = f.read().splitlines()
    slide = int(sys.argv[3], 0) if len(sys.argv) > 3 else find_slide(addrs, names, lines)
    for line in lines:
        m = re.search(r'rip 0x([0-9a-f]+)', line)
        if m and int(m.group(1), 16) >= KERNEL:
            line += '   <%s>' % name(addrs, names, int(m.group(1), 16) - slide)
        print(line)


if __name__ == '__main__':
    main()

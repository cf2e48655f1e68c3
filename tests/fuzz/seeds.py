#!/usr/bin/env python3
"""seeds.py: writes the committed seed corpus, tests/fuzz/corpus/<target>/seed-* and bug-*, a
handful of hand-made inputs per target in the input formats the targets' headers describe. Run it after
changing a format; libFuzzer grows the real corpus from these in build/fuzz/corpus_<target>/."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
u8 = lambda v: struct.pack('<B', v & 0xff)
u16 = lambda v: struct.pack('<H', v & 0xffff)
u32 = lambda v: struct.pack('<I', v & 0xffffffff)
u64 = lambda v: struct.pack('<Q', v & 0xffffffffffffffff)
BIT = lambda b: 1 << b

# virtio feature bits
CSUM, GUEST_CSUM, CTRL_GUEST_OFFLOADS, MAC, MRG_RXBUF, STATUS, CTRL_VQ, CTRL_RX = 0, 1, 2, 5, 15, 16, 17, 18
CTRL_MAC_ADDR, INDIRECT, EVENT_IDX, VERSION_1 = 23, 28, 29, 32
NET_FULL = (BIT(VERSION_1) | BIT(MAC) | BIT(STATUS) | BIT(MRG_RXBUF) | BIT(CTRL_VQ) | BIT(CTRL_RX) |
            BIT(CTRL_MAC_ADDR) | BIT(CTRL_GUEST_OFFLOADS) | BIT(EVENT_IDX) | BIT(INDIRECT) |
            BIT(CSUM) | BIT(GUEST_CSUM))

# fuzz_ring.h chain programs
WRITE, RAW_NEXT, INDIR, RAW_ADDR, RAW_LEN, STOP = 1, 2, 4, 8, 16, 32


def desc(flags, length, addr):
    return u8(flags) + u16(length) + u16(addr)


def chain(*descs):
    return u8(len(descs) - 1) + b''.join(descs)


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name if name.startswith('bug-') else 'seed-' + name), 'wb') as f:
        f.write(data)


# Offsets inside the data areas (relative: folded into them by fuzz_ring.c).
RX_BUF, TX_HDR, TX_FRAME, CTRL_CMD, CTRL_ACK = 0x0000, 0x2000, 0x2010, 0x3000, 0x3100
FRAME = bytes(12) + b'\xff' * 6 + b'\x02\x00\x00\x00\x00\x01' + b'\x08\x00' + bytes(46)

# --- fuzz_net: features:u64 offloads:u8 sizes:u8[3] flags:u8, then ops ---
def net_hdr(features, sizes=(3, 3, 3), offloads=1):
    return u64(features) + u8(offloads) + bytes(sizes) + u8(0)

N_TX, N_RX, N_RXKICK, N_CTRL, N_CHAIN, N_WIRE, N_DRAIN, N_SCRIBBLE, N_AVAIL, N_EAGAIN = range(10)
rx_chain = u8(N_CHAIN) + u8(0) + chain(desc(WRITE, 2048, RX_BUF))
rx_small = u8(N_CHAIN) + u8(0) + chain(desc(WRITE, 16, RX_BUF))
tx_chain = u8(N_CHAIN) + u8(1) + chain(desc(0, 12, TX_HDR), desc(0, 60, TX_FRAME))
wire = u8(N_WIRE) + u16(len(FRAME)) + FRAME
write('net', 'rx-tx', net_hdr(NET_FULL) + rx_chain + rx_chain + wire + u8(N_RX) + tx_chain +
      u8(N_TX) + u8(N_DRAIN) + wire + u8(N_RX) + u8(N_RXKICK))
write('net', 'mergeable-small-buffers', net_hdr(NET_FULL) + rx_small * 6 + wire + u8(N_RX) +
      rx_chain + u8(N_RXKICK))
write('net', 'indirect-tx', net_hdr(NET_FULL) + u8(N_CHAIN) + u8(1) +
      chain(desc(INDIR, 1, 0)) + desc(0, 12, TX_HDR) + desc(0, 60, TX_FRAME) + u8(N_TX) + u8(N_DRAIN))
# CTRL_RX PROMISC on: class 0 cmd 0, one byte; ack byte writable.
ctrl_cmd = u8(N_SCRIBBLE) + u16(0x6000 + CTRL_CMD) + b'\x00\x00\x01' + bytes(5)
write('net', 'ctrl-promisc', net_hdr(NET_FULL) + ctrl_cmd + u8(N_CHAIN) + u8(2) +
      chain(desc(0, 2, CTRL_CMD), desc(0, 1, CTRL_CMD + 2), desc(WRITE, 1, CTRL_ACK)) + u8(N_CTRL))
write('net', 'tx-backend-full', net_hdr(BIT(VERSION_1), (0, 2, 0)) + u8(N_EAGAIN) + tx_chain + u8(N_TX) +
      u8(N_EAGAIN) + u8(N_TX) + u8(N_DRAIN) + u8(N_AVAIL) + u8(1) + u16(0x100) + u8(N_TX))

# --- fuzz_virtio_pci: offloads:u8, then ops ---
(V_ACC, _, V_IO, V_POLL, V_LIFE, V_SCRIB, V_WIRE, V_DRAIN, V_NEG, V_QUEUE, V_DOK, V_CHAIN, V_KICK,
 V_MSIX, V_RESET, V_EAGAIN) = range(16)

def vq(q, size_log2=3):
    return u8(V_QUEUE) + u8(q) + u8(size_log2) + u8(0)

# DRIVER_OK only requests the start; the lifecycle step (the main loop's job) performs it.
bringup = (u8(V_NEG) + u64(NET_FULL) + vq(0) + vq(1) + vq(2) + u8(V_DOK) + u8(V_LIFE))
v_rx = u8(V_CHAIN) + u8(0) + chain(desc(WRITE, 2048, RX_BUF))
v_tx = u8(V_CHAIN) + u8(1) + chain(desc(0, 12, TX_HDR), desc(0, 60, TX_FRAME))
v_wire = u8(V_WIRE) + u16(len(FRAME)) + FRAME
write('virtio_pci', 'bringup-traffic', u8(1) + bringup + v_rx + u8(V_KICK) + u8(0) + v_wire + u8(V_IO) +
      v_tx + u8(V_KICK) + u8(1) + u8(V_IO) + u8(V_DRAIN) + u8(V_POLL) + u8(V_RESET) + u8(V_LIFE))
write('virtio_pci', 'msix-then-traffic', u8(0) + u8(V_MSIX) + u8(0) + u8(0) + u8(0) + u16(0x41) +
      u8(V_MSIX) + u8(1) + u8(0) + u8(1) + u16(0x42) + bringup + v_rx + u8(V_KICK) + u8(0) + v_wire + u8(V_IO) + u8(V_POLL) +
      u8(V_MSIX) + u8(1) + u8(1) + u8(1) + u16(0x42) + u8(V_POLL))
# The host side meanwhile: QMP stop, traffic, cont, link down and up.
write('virtio_pci', 'pause-link', u8(0) + bringup + v_rx + u8(V_KICK) + u8(0) + u8(V_EAGAIN) + u8(1) + v_wire +
      u8(V_IO) + u8(V_EAGAIN) + u8(2) + u8(V_IO) + u8(V_EAGAIN) + u8(3) + u8(V_POLL) + u8(V_EAGAIN) + u8(3))
# Every region, every size: reads then writes of 0.
acc = b''.join(u8(V_ACC) + u8(region | (size << 3)) + u16(off) + u64(0)
               for region in range(4) for size in range(8) for off in (0, 0x14, 0x1000, 0x2000, 0x3004))
write('virtio_pci', 'register-sweep', u8(0) + acc)
# The PCI_CFG window: bar = 4, offset = num_queues (0x12), length = 2, then read the data.
cfgcap = 0x40 + 12 + 16 + 16 + 16 + 20  # after MSI-X, common, ISR, device and notify
write('virtio_pci', 'pci-cfg-window', u8(0) + bringup +
      u8(V_ACC) + u8(2 | 4) + u16(0x04) + u64(0x6) +   # command: memory + bus master
      u8(V_ACC) + u8(2 | 4) + u16(cfgcap + 4) + u64(4) +
      u8(V_ACC) + u8(2 | 4 | (2 << 3)) + u16(cfgcap + 8) + u64(0x12) +
      u8(V_ACC) + u8(2 | 4 | (2 << 3)) + u16(cfgcap + 12) + u64(2) +
      u8(V_ACC) + u8(2 | (1 << 3)) + u16(cfgcap + 16) + u64(0) +
      # status write through the window: reset, then the lifecycle step
      u8(V_ACC) + u8(2 | 4 | (1 << 3)) + u16(cfgcap + 8) + u64(0x14) +
      u8(V_ACC) + u8(2 | 4 | (2 << 3)) + u16(cfgcap + 12) + u64(1) +
      u8(V_ACC) + u8(2 | 4) + u16(cfgcap + 16) + u64(0) + u8(V_LIFE))
write('virtio_pci', 'garbage-queues', u8(0) + u8(V_NEG) + u64(NET_FULL) + u8(V_QUEUE) + u8(0) + u8(8) + u8(1) +
      u64(0xfff0) + u64(0x10001) + u64(0xffffffff00) + u8(V_DOK) + u8(V_LIFE) + u8(V_IO) + u8(V_RESET) +
      u8(V_LIFE) + bringup)

# Reproducers of bugs found this way (seed names bug-*): each must run clean once fixed, and
# keeps running in every fuzz-ci as a regression test.
FULL_MAC = NET_FULL | BIT(CTRL_MAC_ADDR)
# DRIVER_OK, then a status write that clears it without a reset, then DRIVER_OK again.
write('virtio_pci', 'bug-driver-ok-reinit-live-queues', u8(0) + bringup +
      u8(V_ACC) + u8(0 | 4) + u16(0x14) + u64(0x0b) + u8(V_LIFE) + u8(V_DOK) + u8(V_LIFE) + v_rx +
      u8(V_KICK) + u8(0) + v_wire + u8(V_IO))
# Bus Master Enable cleared (as kexec's shutdown does), then RX traffic.
write('virtio_pci', 'bug-bme-cleared-still-dma', u8(0) + bringup +
      u8(V_ACC) + u8(2 | 4 | (1 << 3)) + u16(0x04) + u64(0x2) + u8(V_LIFE) +
      v_rx + u8(V_KICK) + u8(0) + v_wire + u8(V_IO) + u8(V_LIFE) + u8(V_IO))
# 100 one-byte writes to the device config: one log line each would flood stderr.
write('virtio_pci', 'bug-config-write-log-flood',
      u8(0) + b''.join(u8(V_ACC) + u8(4) + u16(0x2000) + u64(0) for _ in range(100)))
# CTRL_MAC_ADDR_SET must move config_generation.
write('virtio_pci', 'bug-mac-set-keeps-config-generation', u8(0) + u8(V_NEG) + u64(FULL_MAC) + vq(0) + vq(1) +
      vq(2) + u8(V_DOK) + u8(V_LIFE) + u8(V_SCRIB) + u16(0x6000 + CTRL_CMD) + bytes([1, 1, 2, 0, 0, 0, 0, 0x42]) +
      u8(V_CHAIN) + u8(2) + chain(desc(0, 2, CTRL_CMD), desc(0, 6, CTRL_CMD + 2), desc(WRITE, 1, CTRL_ACK)) +
      u8(V_KICK) + u8(2) + u8(V_IO))

# --- fuzz_virtq: see its header ---
write('virtq', 'one-chain', bytes([3, 3, 0, 0]) + bytes([0, 0, 3, 0] * 8) +
      u64(0x100) + u32(64) + u16(1) + u16(1) + u64(0x140) + u32(64) + u16(2) + u16(0) + bytes(96) +
      u16(0) + u16(1) + u16(0))

# --- fuzz_bzimage / fuzz_elf: ctl:u8 cmdline_len:u8 initrd_len:u16 image ---
def bzimage(setup_sects=1, version=0x020f, xload=1, init_size=0x2000, payload=512):
    img = bytearray((setup_sects + 1) * 512 + payload)
    img[0x1f1] = setup_sects
    img[0x1fe:0x200] = u16(0xaa55)
    img[0x200] = 0xeb
    img[0x201] = 0x6a  # header ends at 0x26c
    img[0x202:0x206] = b'HdrS'
    img[0x206:0x208] = u16(version)
    img[0x22c:0x230] = u32(0x7fffffff)
    img[0x236:0x238] = u16(xload)
    img[0x238:0x23c] = u32(2048)
    img[0x260:0x264] = u32(init_size)
    return bytes(img)

write('bzimage', 'minimal', u8(0) + u8(20) + u16(0) + bzimage())
write('bzimage', 'with-initrd', u8(1) + u8(0) + u16(8192) + bzimage(setup_sects=4))
write('bzimage', 'old-protocol', u8(0) + u8(0) + u16(0) + bzimage(version=0x0205))
write('bzimage', 'huge-init-size', u8(1) + u8(0) + u16(4096) + bzimage(init_size=0xfff00000))

def elf(segments, notes=b''):
    phnum = len(segments) + (1 if notes else 0)
    eh = (b'\x7fELF' + bytes([2, 1, 1]) + bytes(9) + u16(2) + u16(62) + u32(1) + u64(0x100000) +
          u64(64) + u64(0) + u32(0) + u16(64) + u16(56) + u16(phnum) + u16(0) + u16(0) + u16(0))
    body_off = 64 + 56 * phnum
    ph, body = b'', b''
    for paddr, data, memsz in segments:
        ph += u32(1) + u32(7) + u64(body_off + len(body)) + u64(paddr) + u64(paddr) + u64(len(data)) + u64(memsz) + u64(16)
        body += data
    if notes:
        ph += u32(4) + u32(4) + u64(body_off + len(body)) + u64(0) + u64(0) + u64(len(notes)) + u64(len(notes)) + u64(4)
        body += notes
    return eh + ph + body

pvh_note = u32(4) + u32(8) + u32(18) + b'Xen\x00' + u64(0x100040)
write('elf', 'one-segment', u8(0) + u8(8) + u16(0) + elf([(0x100000, b'\x90' * 64, 0x1000)]))
write('elf', 'pvh-note-initrd', u8(1) + u8(0) + u16(4096) + elf([(0x100000, b'\xf4' * 32, 0x2000)], pvh_note))
write('elf', 'two-segments-too-big', u8(0) + u8(0) + u16(0) +
      elf([(0x100000, b'\x01' * 16, 16), (0x180000, b'\x02' * 16, 0x200000)]))

# --- fuzz_net_opts: mode:u8 (even: --net SPEC, odd: argv split at NULs) ---
for i, spec in enumerate([b'tap,ifname=tap0,mac=52:54:00:12:34:56,mtu=1500,vhost=off', b'none',
                          b'user,net=10.0.3.0/24,host=10.0.3.2,dns=10.0.3.3,dhcpstart=10.0.3.20,'
                          b'hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.3.9:53',
                          b'user,mac=02:00:00:00:00:01,hostfwd=tcp::80-:8080']):
    write('net_opts', 'spec-%d' % i, u8(0) + spec)
write('net_opts', 'cli', u8(1) + b'\0'.join([b'--kernel', b'bzImage', b'--mem', b'256M', b'--cpus', b'2',
                                             b'--net', b'tap,ifname=t0', b'--net', b'user', b'--append', b'quiet']))

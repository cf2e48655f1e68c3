/* iov.h: copying between a flat buffer and an iovec at a byte offset: the one walk the virtqueue
 * (virtq_copy_*), the userspace datapath (the RX header fix-up) and the slirp backend (frames in
 * and out of slirp's flat buffers) share. */
#ifndef MINIVMM_IOV_H
#define MINIVMM_IOV_H
#include <stddef.h>
#include <sys/uio.h>

/* The total length of iov[0..iovcnt). */
size_t iov_size(const struct iovec *iov, int iovcnt);
/* Copies up to len bytes from the iovec, starting off bytes into it, to buf; returns how many it
 * copied (fewer than len when the iovec ends first). */
size_t iov_to_buf(const struct iovec *iov, int iovcnt, size_t off, void *buf, size_t len);
/* Copies up to len bytes from buf into the iovec, starting off bytes into it; returns how many it
 * copied (fewer than len when the iovec ends first). */
size_t iov_from_buf(const struct iovec *iov, int iovcnt, size_t off, const void *buf, size_t len);
#endif

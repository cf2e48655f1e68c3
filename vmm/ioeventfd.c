/* ioeventfd.c: KVM_IOEVENTFD registration on MMIO addresses. */
#include "vmm/ioeventfd.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

static int ioeventfd_vm_fd = -1;

int ioeventfd_init(int vm_fd)
{
	if (vm_fd < 0)
		return -EBADF;
	ioeventfd_vm_fd = vm_fd;
	return 0;
}

static int ioeventfd_ctl(int efd, uint64_t addr, uint32_t len, bool match, uint64_t data, bool assign)
{
	struct kvm_ioeventfd io = {
	    .datamatch = data,
	    .addr = addr,
	    .len = len,
	    .fd = efd,
	    .flags = (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	if (ioeventfd_vm_fd < 0)
		return -EBADF;
	return ioctl(ioeventfd_vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int ioeventfd_mmio(int efd, uint64_t addr, uint32_t len, bool assign)
{
	return ioeventfd_ctl(efd, addr, len, false, 0, assign);
}

int ioeventfd_mmio_match(int efd, uint64_t addr, uint32_t len, uint64_t data, bool assign)
{
	return ioeventfd_ctl(efd, addr, len, true, data, assign);
}

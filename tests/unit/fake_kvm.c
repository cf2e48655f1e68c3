/* fake_kvm.c: see fake_kvm.h. */
#include "tests/unit/fake_kvm.h"

#include <string.h>

struct fake_kvm fake_kvm;

void fake_kvm_reset(void)
{
	memset(&fake_kvm, 0, sizeof(fake_kvm));
	fake_kvm.next_gsi = 24;
}

static int fake_msi_alloc(void)
{
	fake_kvm.nalloc++;
	if (!fake_kvm.next_gsi)
		fake_kvm.next_gsi = 24;
	return fake_kvm.next_gsi++;
}

static int fake_msi_set(uint32_t gsi, uint64_t addr, uint32_t data)
{
	if (fake_kvm.nset < FAKE_KVM_LOG) {
		fake_kvm.set[fake_kvm.nset].gsi = gsi;
		fake_kvm.set[fake_kvm.nset].addr = addr;
		fake_kvm.set[fake_kvm.nset].data = data;
	}
	fake_kvm.nset++;
	return 0;
}

static void fake_msi_free(uint32_t gsi)
{
	(void)gsi;
	fake_kvm.nfree++;
}

static int fake_msi_signal(uint64_t addr, uint32_t data)
{
	if (fake_kvm.nsignal < FAKE_KVM_LOG) {
		fake_kvm.signal[fake_kvm.nsignal].addr = addr;
		fake_kvm.signal[fake_kvm.nsignal].data = data;
	}
	fake_kvm.nsignal++;
	return 0;
}

const struct msix_kvm_ops fake_msix_kvm_ops = {
    .msi_alloc = fake_msi_alloc,
    .msi_set = fake_msi_set,
    .msi_free = fake_msi_free,
    .msi_signal = fake_msi_signal,
};

int fake_kvm_ioeventfd(int efd, uint64_t addr, uint32_t len, bool assign)
{
	if (assign) {
		if (fake_kvm.nioev >= FAKE_KVM_LOG)
			return -1;
		fake_kvm.ioev[fake_kvm.nioev].efd = efd;
		fake_kvm.ioev[fake_kvm.nioev].addr = addr;
		fake_kvm.ioev[fake_kvm.nioev].len = len;
		fake_kvm.nioev++;
		return 0;
	}
	for (int i = 0; i < fake_kvm.nioev; i++) {
		if (fake_kvm.ioev[i].efd == efd && fake_kvm.ioev[i].addr == addr) {
			fake_kvm.ioev[i] = fake_kvm.ioev[--fake_kvm.nioev];
			return 0;
		}
	}
	return -2; /* -ENOENT */
}

bool fake_kvm_ioeventfd_at(int efd, uint64_t addr)
{
	for (int i = 0; i < fake_kvm.nioev; i++)
		if (fake_kvm.ioev[i].efd == efd && fake_kvm.ioev[i].addr == addr)
			return true;
	return false;
}

int fake_kvm_irqfd(int efd, uint32_t gsi, int assign)
{
	fake_kvm.irqfd_calls++;
	if (assign) {
		if (fake_kvm.nirqfd >= FAKE_KVM_LOG || fake_kvm_irqfd_gsi(efd) >= 0)
			return -16; /* -EBUSY, as KVM says for a doubly bound eventfd */
		fake_kvm.irqfd[fake_kvm.nirqfd].efd = efd;
		fake_kvm.irqfd[fake_kvm.nirqfd].gsi = gsi;
		fake_kvm.nirqfd++;
		return 0;
	}
	for (int i = 0; i < fake_kvm.nirqfd; i++) {
		if (fake_kvm.irqfd[i].efd == efd && fake_kvm.irqfd[i].gsi == gsi) {
			fake_kvm.irqfd[i] = fake_kvm.irqfd[--fake_kvm.nirqfd];
			return 0;
		}
	}
	return -2;
}

int fake_kvm_irqfd_gsi(int efd)
{
	for (int i = 0; i < fake_kvm.nirqfd; i++)
		if (fake_kvm.irqfd[i].efd == efd)
			return fake_kvm.irqfd[i].gsi;
	return -1;
}

int fake_kvm_line(uint32_t gsi, int level)
{
	fake_kvm.line_calls++;
	if (gsi < 32)
		fake_kvm.line[gsi] = level;
	return 0;
}

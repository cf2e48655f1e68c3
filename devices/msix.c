/* msix.c: MSI-X capability, vector table, PBA and per-vector KVM MSI routes (PCI Local Bus 3.0,
 * 6.8.2). */
#include "devices/msix.h"

#include <errno.h>
#include <linux/pci_regs.h>
#include <string.h>

#include "vmm/irq.h"

const struct msix_kvm_ops msix_kvm_irq = {
    .msi_alloc = irq_msi_alloc,
    .msi_set = irq_msi_set,
    .msi_free = irq_msi_free,
    .msi_signal = irq_msi_signal,
};

static void msix_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

static uint64_t entry_addr(const struct msix_entry *e)
{
	return (uint64_t)e->addr_hi << 32 | e->addr_lo;
}

static bool deliverable(const struct msix *m, int v)
{
	return m->enabled && !m->fmask && !(m->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Commits vector v's address/data to its GSI if it differs from what KVM has. */
static bool route_sync(struct msix *m, int v)
{
	const struct msix_entry *e = &m->table[v];
	if (m->gsi[v] < 0)
		return false;
	if (m->route[v].valid && m->route[v].addr == entry_addr(e) && m->route[v].data == e->data)
		return true;
	m->route[v].valid = m->kops->msi_set(m->gsi[v], entry_addr(e), e->data) == 0;
	m->route[v].addr = entry_addr(e);
	m->route[v].data = e->data;
	return m->route[v].valid;
}

static void inject(struct msix *m, int v)
{
	const struct msix_entry *e = &m->table[v];
	m->kops->msi_signal(entry_addr(e), e->data);
	m->delivered++;
}

/* A vector just became deliverable: make its route current and flush a pending message. */
static void vector_unmasked(struct msix *m, int v)
{
	route_sync(m, v);
	if (m->pba & (1ull << v)) {
		m->pba &= ~(1ull << v);
		inject(m, v);
	}
}

int msix_init(struct msix *m, struct pci_dev *d, int bar, uint16_t nvec, const struct msix_kvm_ops *kops,
	      msix_changed_fn changed, void *opaque)
{
	if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar < 0 || bar > 5)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->pci = d;
	m->kops = kops ? kops : &msix_kvm_irq;
	m->changed = changed;
	m->opaque = opaque;
	m->bar = bar;
	m->nvec = nvec;
	pthread_mutex_init(&m->lock, NULL);
	for (int v = 0; v < MSIX_MAX_VECTORS; v++)
		m->gsi[v] = -1;
	/* Every vector starts masked (6.8.2.9). */
	for (int v = 0; v < nvec; v++)
		m->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;

	uint8_t cap[PCI_CAP_MSIX_SIZEOF] = {PCI_CAP_ID_MSIX};
	uint16_t ctrl = nvec - 1;
	uint32_t table = MSIX_TABLE_OFF | bar, pba = MSIX_PBA_OFF | bar;
	memcpy(&cap[PCI_MSIX_FLAGS], &ctrl, 2);
	memcpy(&cap[PCI_MSIX_TABLE], &table, 4);
	memcpy(&cap[PCI_MSIX_PBA], &pba, 4);
	m->cap = pci_cap_add(d, cap, sizeof(cap));
	if (!m->cap)
		return -ENOSPC;
	/* Only Enable and Function Mask are writable. */
	pci_cfg_set_wmask(d, m->cap + PCI_MSIX_FLAGS + 1, 1,
			  (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);

	pci_bar_init(d, bar, MSIX_BAR_SIZE, false, false, false, msix_bar_io, m);

	for (int v = 0; v < nvec; v++) {
		int g = m->kops->msi_alloc();
		if (g < 0) {
			msix_free(m);
			return g;
		}
		m->gsi[v] = g;
	}
	return 0;
}

void msix_free(struct msix *m)
{
	for (int v = 0; v < MSIX_MAX_VECTORS; v++) {
		if (m->gsi[v] >= 0)
			m->kops->msi_free(m->gsi[v]);
		m->gsi[v] = -1;
	}
}

void msix_cfg_write(struct msix *m, uint32_t off, uint32_t len)
{
	uint32_t ctl = m->cap + PCI_MSIX_FLAGS;
	if (off >= ctl + 2 || off + len <= ctl)
		return;
	uint16_t flags = m->pci->cfg[ctl] | m->pci->cfg[ctl + 1] << 8;
	pthread_mutex_lock(&m->lock);
	bool was_on = m->enabled && !m->fmask;
	m->enabled = flags & PCI_MSIX_FLAGS_ENABLE;
	m->fmask = flags & PCI_MSIX_FLAGS_MASKALL;
	bool on = m->enabled && !m->fmask;
	if (on && !was_on)
		for (int v = 0; v < m->nvec; v++)
			if (deliverable(m, v))
				vector_unmasked(m, v);
	pthread_mutex_unlock(&m->lock);
	if (on != was_on && m->changed)
		m->changed(m->opaque, -1);
}

/* Applies a dword write to the table; returns the vector whose state changed, or -1. */
static int table_write(struct msix *m, uint32_t off, uint32_t val)
{
	int v = off / PCI_MSIX_ENTRY_SIZE;
	struct msix_entry *e = &m->table[v];
	switch (off % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
	case PCI_MSIX_ENTRY_UPPER_ADDR:
	case PCI_MSIX_ENTRY_DATA: {
		uint32_t *f = off % PCI_MSIX_ENTRY_SIZE == PCI_MSIX_ENTRY_LOWER_ADDR   ? &e->addr_lo
			      : off % PCI_MSIX_ENTRY_SIZE == PCI_MSIX_ENTRY_UPPER_ADDR ? &e->addr_hi
										       : &e->data;
		if (*f == val)
			return -1;
		*f = val;
		/* Drivers should mask before retargeting, but Linux moves unmasked vectors too:
		 * keep the live route current so an irqfd on it follows. */
		if (deliverable(m, v))
			route_sync(m, v);
		return v;
	}
	default: {
		uint32_t mask = val & PCI_MSIX_ENTRY_CTRL_MASKBIT;
		if ((e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT) == mask)
			return -1;
		e->ctrl = mask;
		if (deliverable(m, v))
			vector_unmasked(m, v);
		return v;
	}
	}
}

static uint32_t table_read(struct msix *m, uint32_t off)
{
	const struct msix_entry *e = &m->table[off / PCI_MSIX_ENTRY_SIZE];
	switch (off % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		return e->addr_lo;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		return e->addr_hi;
	case PCI_MSIX_ENTRY_DATA:
		return e->data;
	default:
		return e->ctrl;
	}
}

/* The MSI-X BAR: table at MSIX_TABLE_OFF, PBA at MSIX_PBA_OFF. Aligned dword and qword accesses
 * only (6.8.2); anything else reads 0 and writes nothing. */
static void msix_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct msix *m = opaque;
	if ((len != 4 && len != 8) || off % len) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	int changed[2] = {-1, -1};
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < len; i += 4) {
		uint64_t o = off + i;
		uint32_t v = 0;
		if (is_write)
			memcpy(&v, data + i, 4);
		if (o < MSIX_TABLE_OFF + (uint64_t)m->nvec * PCI_MSIX_ENTRY_SIZE) {
			if (is_write)
				changed[i / 4] = table_write(m, o - MSIX_TABLE_OFF, v);
			else
				v = table_read(m, o - MSIX_TABLE_OFF);
		} else if (o >= MSIX_PBA_OFF && o < MSIX_PBA_OFF + 8) {
			/* The PBA is read-only. */
			v = m->pba >> (8 * (o - MSIX_PBA_OFF));
		}
		if (!is_write)
			memcpy(data + i, &v, 4);
	}
	pthread_mutex_unlock(&m->lock);
	if (m->changed) {
		if (changed[0] >= 0)
			m->changed(m->opaque, changed[0]);
		if (changed[1] >= 0 && changed[1] != changed[0])
			m->changed(m->opaque, changed[1]);
	}
}

bool msix_enabled(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	bool on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}

int msix_notify(struct msix *m, uint16_t vector)
{
	int r;
	pthread_mutex_lock(&m->lock);
	if (!m->enabled || vector >= m->nvec) {
		r = -EINVAL;
	} else if (deliverable(m, vector)) {
		inject(m, vector);
		r = 1;
	} else {
		m->pba |= 1ull << vector;
		m->pended++;
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int msix_vector_gsi(struct msix *m, uint16_t vector)
{
	int g = -1;
	pthread_mutex_lock(&m->lock);
	if (vector < m->nvec && deliverable(m, vector) && route_sync(m, vector))
		g = m->gsi[vector];
	pthread_mutex_unlock(&m->lock);
	return g;
}

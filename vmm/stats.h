/* stats.h: --stats: what each vCPU exited to the VMM for, and what each NIC queue cost the VMM
 * (kicks it handled, interrupts it raised, packets and bytes it moved). With vhost-net the rx/tx
 * numbers stay near zero because the kernel does that work: that difference is the point. Then
 * one line counting each kind of guest-triggered diagnostic seen (vmm/log.h). */
#ifndef MINIVMM_STATS_H
#define MINIVMM_STATS_H
#include <stdio.h>

#include "devices/virtio/virtio_net.h"
#include "vmm/vcpu.h"

void stats_print(FILE *f, const struct vcpu *v, int nvcpus, struct virtio_net *const *nics, int nnics);
#endif

/* fuzz_work.h: what the device under test did in one fuzz step, checked against what it may do.
 *
 * Targets that link fuzz_work.c are linked with -Wl,--wrap= for virtq_init, virtq_reset,
 * virtq_pop, virtq_unpop and virtq_push (calls from other files than virtq.c go through the
 * counting wrappers below), and count their backend's send/recv themselves. Invariants:
 *   - work per step is bounded: pops, sends and recvs stay under a bound the target derives
 *     from the queue sizes and the datapath's budgets (a guest cannot make a call spin);
 *   - a queue is only (re)initialised or reset while its device's datapath is stopped (the
 *     target says when it runs, fuzz_work_set_running());
 *   - no chain is taken while the device may not master the bus (fuzz_work_set_dma(): a PCI
 *     function whose Bus Master Enable the guest cleared does no DMA);
 *   - per queue, since its last init/reset: chains pushed <= chains taken (pops - unpops), a
 *     pop is only undone while it was not pushed, and the used index the device keeps moved
 *     forward by at most the chains pushed. */
#ifndef MINIVMM_FUZZ_WORK_H
#define MINIVMM_FUZZ_WORK_H
#include <stdint.h>

#include "devices/virtio/virtq.h"

/* Starts counting a step that may do at most this much; the counters abort the moment it does
 * more (so a spinning loop is reported where it spins, not as a timeout). */
void fuzz_work_begin(const char *step, uint64_t max_pops, uint64_t max_sends, uint64_t max_recvs);
/* Counted by the wrappers, and by the targets' backends. */
void fuzz_work_send(void);
void fuzz_work_recv(void);
/* Most pops one datapath round of `budget` steps (net_loop.h: NET_RX_BUDGET) may do on a queue
 * of `size`: every step re-pops at most the whole ring, plus the chains dropped on the way. */
uint64_t fuzz_work_max_pops(uint64_t budget, uint16_t size);
/* Checks the used-index invariants of every queue seen since fuzz_work_forget(). */
void fuzz_work_check_queues(void);
/* The device's queues: the accounting covers vq[0..n) only (a transport may init a scratch
 * struct virtq to probe a geometry). */
void fuzz_work_set_queues(const struct virtq *vq, int n);
/* running(opaque) says whether the device's datapath is running (NULL: never). */
void fuzz_work_set_running(int (*running)(void *opaque), void *opaque);
/* dma(opaque) says whether the device may access guest memory now (NULL: always). */
void fuzz_work_set_dma(int (*dma)(void *opaque), void *opaque);
/* Forgets all queues and hooks (end of an input). */
void fuzz_work_forget(void);
#endif

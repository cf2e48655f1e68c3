/* credit.h: a flow-control window between a frame producer and its consumer, on two threads of
 * the datapath bench (source -> guest RX, guest TX -> test sink).
 *
 * The producer takes credit before it sends a frame and blocks (futex, no spinning) while
 * `window` frames are in flight; the consumer returns credit for each frame it got. Neither side
 * drops frames to a queue that is full (the tap's own queue holds 500), and a producer that is
 * ahead sleeps instead of burning a CPU the datapath needs: this machine has two. window 0 means
 * no limit (credit_take never blocks). credit_stop() wakes a blocked producer for good. */
#ifndef MINIVMM_DP_CREDIT_H
#define MINIVMM_DP_CREDIT_H
#include <stdbool.h>
#include <stdint.h>

struct credit {
	uint32_t window;
	uint64_t taken;	   /* producer only */
	uint64_t returned; /* consumer adds, producer reads (atomics) */
	uint32_t seq;	   /* futex word: bumped on every return while the producer sleeps */
	int waiting;	   /* the producer is (about to be) asleep */
	bool stopped;
};

void credit_init(struct credit *c, uint32_t window);
/* Producer: takes n credits, blocking while that would exceed the window. False once stopped. */
bool credit_take(struct credit *c, uint32_t n);
/* Consumer: n frames arrived. */
void credit_return(struct credit *c, uint32_t n);
/* Ends the exchange: a blocked producer returns false, and so does every later take. */
void credit_stop(struct credit *c);
#endif

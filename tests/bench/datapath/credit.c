/* credit.c: the producer/consumer window of the datapath bench (credit.h). */
#include "tests/bench/datapath/credit.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex_wait(uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void credit_init(struct credit *c, uint32_t window)
{
	*c = (struct credit){.window = window};
}

static bool credit_room(struct credit *c, uint32_t n)
{
	uint64_t back = __atomic_load_n(&c->returned, __ATOMIC_SEQ_CST);
	return c->taken + n - back <= c->window;
}

bool credit_take(struct credit *c, uint32_t n)
{
	if (c->window)
		while (!credit_room(c, n)) {
			uint32_t s = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
			__atomic_store_n(&c->waiting, 1, __ATOMIC_SEQ_CST);
			/* Re-check after announcing the wait: a return in between bumped seq
			 * (it saw waiting), so the futex wait below does not sleep. */
			if (__atomic_load_n(&c->stopped, __ATOMIC_ACQUIRE))
				return false;
			if (credit_room(c, n))
				break;
			futex_wait(&c->seq, s);
		}
	if (__atomic_load_n(&c->stopped, __ATOMIC_ACQUIRE))
		return false;
	c->taken += n;
	return true;
}

static void credit_wake(struct credit *c)
{
	if (__atomic_load_n(&c->waiting, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&c->waiting, 0, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->seq, 1, __ATOMIC_RELEASE);
		futex_wake(&c->seq);
	}
}

void credit_return(struct credit *c, uint32_t n)
{
	__atomic_add_fetch(&c->returned, n, __ATOMIC_SEQ_CST);
	credit_wake(c);
}

void credit_stop(struct credit *c)
{
	__atomic_store_n(&c->stopped, true, __ATOMIC_SEQ_CST);
	__atomic_store_n(&c->waiting, 1, __ATOMIC_SEQ_CST);
	credit_wake(c);
}

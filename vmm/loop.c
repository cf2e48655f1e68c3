/* loop.c: an epoll loop with per-fd callbacks and an eventfd to stop it from another thread. */
#include "vmm/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct loop_watch {
	int fd;
	loop_fn fn;
	void *opaque;
	struct loop_watch *next;
};

struct loop_deferred {
	loop_defer_fn fn;
	void *opaque;
};

/* Deferred callbacks waiting for the next round, and those due in the round running now. */
struct loop_defer_list {
	int n;
	struct loop_deferred d[LOOP_DEFER_MAX];
};

struct loop {
	int epfd;
	int stopfd;
	volatile int stopping;
	struct loop_watch *watches;
	int (*prepoll)(void *opaque);
	void *prepoll_opaque;
	struct loop_defer_list pending, due;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->stopfd < 0)
		goto fail;
	/* The stop fd's event carries a NULL watch. */
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev) < 0)
		goto fail;
	return l;
fail:
	loop_free(l);
	return NULL;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->watches) {
		struct loop_watch *w = l->watches;
		l->watches = w->next;
		free(w);
	}
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stopfd >= 0)
		close(l->stopfd);
	free(l);
}

static struct loop_watch *loop_find(struct loop *l, int fd, struct loop_watch ***link)
{
	for (struct loop_watch **p = &l->watches; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

/* Pointer comparison only: w may already be freed by an earlier callback of this batch. */
static bool loop_has(struct loop *l, const struct loop_watch *w)
{
	for (struct loop_watch *p = l->watches; p; p = p->next)
		if (p == w)
			return true;
	return false;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque)
{
	struct loop_watch *w = loop_find(l, fd, NULL);
	int op = EPOLL_CTL_MOD;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->fd = fd;
		w->next = l->watches;
		l->watches = w;
		op = EPOLL_CTL_ADD;
	}
	w->fn = fn;
	w->opaque = opaque;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0) {
		int err = -errno;
		if (op == EPOLL_CTL_ADD)
			loop_del(l, fd);
		return err;
	}
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
	struct loop_watch *w = loop_find(l, fd, NULL);
	if (!w)
		return -ENOENT;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int loop_del(struct loop *l, int fd)
{
	struct loop_watch **link;
	struct loop_watch *w = loop_find(l, fd, &link);
	if (!w)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	*link = w->next;
	free(w);
	return 0;
}

void loop_set_prepoll(struct loop *l, int (*fn)(void *opaque), void *opaque)
{
	l->prepoll = fn;
	l->prepoll_opaque = opaque;
}

static int defer_find(const struct loop_defer_list *dl, loop_defer_fn fn, void *opaque)
{
	for (int i = 0; i < dl->n; i++)
		if (dl->d[i].fn == fn && dl->d[i].opaque == opaque)
			return i;
	return -1;
}

static void defer_remove(struct loop_defer_list *dl, loop_defer_fn fn, void *opaque)
{
	int i = defer_find(dl, fn, opaque);
	if (i >= 0)
		dl->d[i] = dl->d[--dl->n];
}

int loop_defer(struct loop *l, loop_defer_fn fn, void *opaque)
{
	if (defer_find(&l->pending, fn, opaque) >= 0)
		return 0;
	if (l->pending.n == LOOP_DEFER_MAX)
		return -ENOSPC;
	l->pending.d[l->pending.n++] = (struct loop_deferred){fn, opaque};
	return 0;
}

void loop_defer_cancel(struct loop *l, loop_defer_fn fn, void *opaque)
{
	defer_remove(&l->pending, fn, opaque);
	defer_remove(&l->due, fn, opaque);
}

/* The callbacks deferred before this round, unless cancelled meanwhile; each may defer itself
 * again, for the next round. */
static int defer_run_due(struct loop *l)
{
	int ran = 0;
	while (l->due.n) {
		struct loop_deferred d = l->due.d[0];
		defer_remove(&l->due, d.fn, d.opaque);
		d.fn(d.opaque);
		ran++;
	}
	return ran;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[32];
	l->due = l->pending;
	l->pending.n = 0;
	if (l->due.n)
		timeout_ms = 0;
	if (l->prepoll) {
		int t = l->prepoll(l->prepoll_opaque);
		if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
			timeout_ms = t;
	}
	int n = epoll_wait(l->epfd, evs, 32, timeout_ms);
	if (n < 0) {
		int err = errno == EINTR ? 0 : -errno;
		/* Not lost: due again next round. */
		for (int i = 0; i < l->due.n; i++)
			loop_defer(l, l->due.d[i].fn, l->due.d[i].opaque);
		l->due.n = 0;
		return err;
	}
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;
		if (!w) {
			uint64_t v;
			if (read(l->stopfd, &v, sizeof(v)) < 0) {
				/* Nothing to do: the flag below is what matters. */
			}
			continue;
		}
		/* A callback may delete watches (even itself); epoll will not report a deleted fd
		 * in a later wait, and within this batch we re-check membership. */
		if (loop_has(l, w))
			w->fn(w->opaque, evs[i].events);
	}
	return n + defer_run_due(l);
}

void loop_run(struct loop *l)
{
	while (!l->stopping)
		loop_run_once(l, -1);
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;
	l->stopping = 1;
	if (write(l->stopfd, &one, sizeof(one)) < 0) {
		/* The eventfd cannot overflow with a single increment per stop. */
	}
}

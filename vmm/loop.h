/* loop.h: a small epoll loop; the main thread and each device I/O thread run one. */
#ifndef MINIVMM_LOOP_H
#define MINIVMM_LOOP_H
#include <stdbool.h>
#include <stdint.h>

struct loop;
/* Called with the epoll events that fired for fd. */
typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Watches fd for events (EPOLLIN/EPOLLOUT...). 0 or -errno. add twice = modify. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque);
int loop_mod(struct loop *l, int fd, uint32_t events);
int loop_del(struct loop *l, int fd);
/* Called before each wait; returns the timeout in ms to use (-1 = none). Used by slirp. */
void loop_set_prepoll(struct loop *l, int (*fn)(void *opaque), void *opaque);
/* Runs one wait + dispatch round with timeout_ms (-1 = until an event), then the callbacks
 * deferred before it (loop_defer); returns events and deferred callbacks handled, or -errno. */
int loop_run_once(struct loop *l, int timeout_ms);

/* Work a callback stopped for fairness (a budget) and wants to resume once the loop's other fds
 * had their turn: fn(opaque) runs once in the next loop_run_once(), after that round's fd
 * callbacks, and that round does not wait (timeout 0). Cheaper than waking the loop through an
 * fd (a write and a read). The same fn and opaque deferred twice run once. 0, or -ENOSPC with
 * LOOP_DEFER_MAX pending (the caller wakes itself another way). The loop's own thread only. */
#define LOOP_DEFER_MAX 8
typedef void (*loop_defer_fn)(void *opaque);
int loop_defer(struct loop *l, loop_defer_fn fn, void *opaque);
/* Forgets a pending loop_defer(l, fn, opaque): before opaque is freed. */
void loop_defer_cancel(struct loop *l, loop_defer_fn fn, void *opaque);
/* Runs until loop_stop() (thread-safe, wakes the loop; a stopped loop stays stopped). */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);
#endif

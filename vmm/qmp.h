/* qmp.h: a QMP server (QEMU Machine Protocol, a subset): `--qmp unix:PATH`.
 *
 * The wire protocol is QEMU's (docs/interop/qmp-spec): a greeting, `qmp_capabilities`
 * negotiation, `{"execute": CMD, "arguments": {...}, "id": ANY}` commands answered by
 * `{"return": ...}` or `{"error": {"class": ..., "desc": ...}}`, and asynchronous events with
 * timestamps. Messages are framed as JSON objects, not lines, as QEMU's streaming parser does, so
 * clients that send no newline (python's qemu.qmp) work.
 *
 * Everything runs on the main loop and never blocks: a client that sends garbage gets an error;
 * one that sends a message over QMP_MAX_MSG bytes, stops reading its replies (more than
 * QMP_MAX_OUT pending) or does not negotiate within the negotiation timeout is dropped. Up to
 * QMP_MAX_CLIENTS clients at once; more are told so and closed.
 *
 * The server knows no machine: what the commands do is a struct qmp_ops the VMM fills. */
#ifndef MINIVMM_QMP_H
#define MINIVMM_QMP_H
#include <stdbool.h>
#include <stdint.h>

#include "vmm/json.h"

#define QMP_MAX_CLIENTS	    4
#define QMP_MAX_MSG	    (64 * 1024)
#define QMP_MAX_OUT	    (1024 * 1024)
#define QMP_NEGOTIATE_MS    10000

struct loop;
struct qmp;

/* An error a command handler reports: QMP's error class and a description. */
struct qmp_error {
	const char *cls; /* "GenericError", "DeviceNotFound", ... */
	char desc[160];
};

/* What the machine does for each command. Each runs on the main loop. A handler returns 0, or
 * -1 with e filled. */
struct qmp_ops {
	/* "running", "paused" or "shutdown" (QEMU's RunState names). */
	const char *(*status)(void *opaque);
	int (*stop)(void *opaque, struct qmp_error *e);
	int (*cont)(void *opaque, struct qmp_error *e);
	int (*powerdown)(void *opaque, struct qmp_error *e);
	void (*quit)(void *opaque);
	/* name: "net0".. or the NIC's id= */
	int (*set_link)(void *opaque, const char *name, bool up, struct qmp_error *e);
	/* Appends the NIC counters as one JSON value (x-query-net-stats). */
	void (*net_stats)(void *opaque, struct jbuf *out);
};

/* Listens on the unix socket PATH (an existing socket is replaced; anything else there is an
 * error) and serves clients on loop l. 0 or -errno with one line printed. */
int qmp_open(struct qmp **out, const char *path, struct loop *l, const struct qmp_ops *ops, void *opaque);
/* Closes every client, removes the socket. NULL is fine. */
void qmp_close(struct qmp *q);
/* Sends event NAME with data (a JSON object text, or NULL for none) to every negotiated client. */
void qmp_event(struct qmp *q, const char *name, const char *data);
/* Writes out what is pending for up to timeout_ms (the SHUTDOWN event before exit). */
void qmp_flush(struct qmp *q, int timeout_ms);
/* Tests: the negotiation timeout in ms (default QMP_NEGOTIATE_MS). */
void qmp_set_negotiate_timeout(struct qmp *q, int ms);
#endif

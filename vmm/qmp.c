/* qmp.c: the QMP server: sockets, message framing, negotiation, dispatch (qmp.h). */
#include "vmm/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/log.h"
#include "vmm/loop.h"

struct qmp_client {
	struct qmp *q;
	int fd, timer;
	bool negotiated;
	/* The message being framed: bytes of one top-level JSON value, scanned for its end. */
	char *msg;
	size_t len;
	int depth;
	bool in_str, esc, garbage;
	struct jbuf out;
	size_t out_off; /* bytes of out already written */
	bool want_out;	/* EPOLLOUT watched */
};

struct qmp {
	int fd;
	char *path;
	struct loop *loop;
	const struct qmp_ops *ops;
	void *opaque;
	int negotiate_ms;
	struct qmp_client *c[QMP_MAX_CLIENTS];
};

/* --- output --- */

static void client_drop(struct qmp_client *c);

static void client_watch(struct qmp_client *c)
{
	bool want = c->out_off < c->out.len;
	if (want != c->want_out && loop_mod(c->q->loop, c->fd, EPOLLIN | (want ? EPOLLOUT : 0)) == 0)
		c->want_out = want;
}

/* Writes what the socket takes now. false if the client had to be dropped. */
static bool client_flush(struct qmp_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			client_drop(c);
			return false;
		}
		c->out_off += n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
	} else if (c->out.len - c->out_off > QMP_MAX_OUT || c->out.oom) {
		/* Not reading its replies: it may not make us buffer without bound. */
		client_drop(c);
		return false;
	}
	client_watch(c);
	return true;
}

static void reply_error(struct jbuf *b, const char *cls, const char *desc, const struct json *id)
{
	jbuf_raw(b, "{\"error\": {\"class\": ");
	jbuf_str(b, cls);
	jbuf_raw(b, ", \"desc\": ");
	jbuf_str(b, desc);
	jbuf_raw(b, "}");
	if (id) {
		jbuf_raw(b, ", \"id\": ");
		jbuf_value(b, id);
	}
	jbuf_raw(b, "}\r\n");
}

static void timestamp(struct jbuf *b)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	jbuf_printf(b, "\"timestamp\": {\"seconds\": %lld, \"microseconds\": %ld}", (long long)tv.tv_sec,
		    (long)tv.tv_usec);
}

/* --- commands --- */

struct qmp_arg {
	const char *name;
	enum json_type type;
	bool required;
};

struct qmp_cmd {
	const char *name;
	int (*fn)(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e);
	struct qmp_arg args[2];
};

static int cmd_capabilities(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	const struct json *en = json_get(args, "enable");
	(void)ret;
	/* We offer no capability (no "oob"), so the only valid list is an empty one. */
	if (en && en->n) {
		e->cls = "GenericError";
		snprintf(e->desc, sizeof(e->desc), "Capability '%s' not available",
			 en->item[0]->type == JSON_STRING ? en->item[0]->str : "?");
		return -1;
	}
	c->negotiated = true;
	struct itimerspec off = {0};
	timerfd_settime(c->timer, 0, &off, NULL);
	return 0;
}

/* QEMU's VersionInfo, as the greeting and query-version both give it. */
static void version_info(struct jbuf *b)
{
	int major = 0, minor = 0, micro = 0;
	sscanf(MINIVMM_VERSION, "%d.%d.%d", &major, &minor, &micro);
	jbuf_printf(b, "{\"qemu\": {\"micro\": %d, \"minor\": %d, \"major\": %d}, \"package\": \"minivmm %s\"}",
		    micro, minor, major, MINIVMM_VERSION);
}

static int cmd_version(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)c, (void)args, (void)e;
	version_info(ret);
	return 0;
}

static int cmd_commands(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e);

static int cmd_status(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	const char *s = c->q->ops->status(c->q->opaque);
	(void)args, (void)e;
	/* QEMU's StatusInfo, in its member order. */
	jbuf_printf(ret, "{\"running\": %s, \"status\": \"%s\"}", strcmp(s, "running") ? "false" : "true", s);
	return 0;
}

static int cmd_stop(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)args, (void)ret;
	return c->q->ops->stop(c->q->opaque, e);
}

static int cmd_cont(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)args, (void)ret;
	return c->q->ops->cont(c->q->opaque, e);
}

static int cmd_powerdown(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)args, (void)ret;
	return c->q->ops->powerdown(c->q->opaque, e);
}

static int cmd_quit(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)args, (void)ret, (void)e;
	c->q->ops->quit(c->q->opaque);
	return 0;
}

static int cmd_set_link(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)ret;
	return c->q->ops->set_link(c->q->opaque, json_get(args, "name")->str, json_get(args, "up")->b, e);
}

static int cmd_net_stats(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)args, (void)e;
	c->q->ops->net_stats(c->q->opaque, ret);
	return 0;
}

static const struct qmp_cmd qmp_cmds[] = {
    {"qmp_capabilities", cmd_capabilities, {{"enable", JSON_ARRAY, false}}},
    {"query-version", cmd_version, {{0}}},
    {"query-commands", cmd_commands, {{0}}},
    {"query-status", cmd_status, {{0}}},
    {"stop", cmd_stop, {{0}}},
    {"cont", cmd_cont, {{0}}},
    {"system_powerdown", cmd_powerdown, {{0}}},
    {"quit", cmd_quit, {{0}}},
    {"set_link", cmd_set_link, {{"name", JSON_STRING, true}, {"up", JSON_BOOL, true}}},
    {"x-query-net-stats", cmd_net_stats, {{0}}},
};
#define NCMDS (sizeof(qmp_cmds) / sizeof(qmp_cmds[0]))

static int cmd_commands(struct qmp_client *c, const struct json *args, struct jbuf *ret, struct qmp_error *e)
{
	(void)c, (void)args, (void)e;
	jbuf_raw(ret, "[");
	for (size_t i = 0; i < NCMDS; i++)
		jbuf_printf(ret, "%s{\"name\": \"%s\"}", i ? ", " : "", qmp_cmds[i].name);
	jbuf_raw(ret, "]");
	return 0;
}

/* QEMU's argument checks, with its wording: unexpected, missing, wrongly typed. */
static int args_check(const struct qmp_cmd *cmd, const struct json *args, struct qmp_error *e)
{
	e->cls = "GenericError";
	for (size_t i = 0; args && i < args->n; i++) {
		const struct qmp_arg *a = cmd->args;
		while (a < cmd->args + 2 && a->name && strcmp(a->name, args->key[i]))
			a++;
		if (a == cmd->args + 2 || !a->name) {
			snprintf(e->desc, sizeof(e->desc), "Parameter '%s' is unexpected", args->key[i]);
			return -1;
		}
		if (args->item[i]->type != a->type) {
			snprintf(e->desc, sizeof(e->desc), "Invalid parameter type for '%s', expected: %s", a->name,
				 json_type_name(a->type));
			return -1;
		}
	}
	for (const struct qmp_arg *a = cmd->args; a < cmd->args + 2 && a->name; a++) {
		if (a->required && !json_get(args, a->name)) {
			snprintf(e->desc, sizeof(e->desc), "Parameter '%s' is missing", a->name);
			return -1;
		}
	}
	return 0;
}

/* One framed message: parse, check the envelope, run the command, queue the reply. */
static void client_dispatch(struct qmp_client *c, const char *text, size_t len)
{
	struct jbuf *b = &c->out;
	const char *why;
	struct json *m = json_parse(text, len, &why);
	struct qmp_error e = {.cls = "GenericError"};
	if (!m) {
		snprintf(e.desc, sizeof(e.desc), "JSON parse error, %s", why);
		reply_error(b, e.cls, e.desc, NULL);
		return;
	}
	const struct json *exec = json_get(m, "execute"), *args = json_get(m, "arguments");
	const struct json *id = json_get(m, "id");
	const struct qmp_cmd *cmd = NULL;
	if (m->type != JSON_OBJECT) {
		snprintf(e.desc, sizeof(e.desc), "QMP input must be a JSON object");
		goto error;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->key[i], "execute") && strcmp(m->key[i], "arguments") && strcmp(m->key[i], "id")) {
			snprintf(e.desc, sizeof(e.desc), "QMP input member '%s' is unexpected", m->key[i]);
			goto error;
		}
	}
	if (!exec || exec->type != JSON_STRING) {
		snprintf(e.desc, sizeof(e.desc), exec ? "QMP input member 'execute' must be a string"
						      : "QMP input lacks member 'execute'");
		goto error;
	}
	if (args && args->type != JSON_OBJECT) {
		snprintf(e.desc, sizeof(e.desc), "QMP input member 'arguments' must be an object");
		goto error;
	}
	bool caps = !strcmp(exec->str, "qmp_capabilities");
	e.cls = "CommandNotFound";
	if (!c->negotiated && !caps) {
		snprintf(e.desc, sizeof(e.desc), "Expecting capabilities negotiation with 'qmp_capabilities'");
		goto error;
	}
	if (c->negotiated && caps) {
		snprintf(e.desc, sizeof(e.desc), "Capabilities negotiation is already complete, command ignored");
		goto error;
	}
	for (size_t i = 0; i < NCMDS && !cmd; i++)
		if (!strcmp(qmp_cmds[i].name, exec->str))
			cmd = &qmp_cmds[i];
	if (!cmd) {
		snprintf(e.desc, sizeof(e.desc), "The command %.100s has not been found", exec->str);
		goto error;
	}
	if (args_check(cmd, args, &e))
		goto error;
	struct jbuf ret = {0};
	if (cmd->fn(c, args, &ret, &e)) {
		jbuf_free(&ret);
		goto error;
	}
	jbuf_raw(b, "{\"return\": ");
	jbuf_raw(b, ret.len ? ret.p : "{}");
	jbuf_free(&ret);
	if (id) {
		jbuf_raw(b, ", \"id\": ");
		jbuf_value(b, id);
	}
	jbuf_raw(b, "}\r\n");
	json_free(m);
	return;
error:
	reply_error(b, e.cls, e.desc, id);
	json_free(m);
}

/* --- input: framing one JSON value at a time, as QEMU's json-streamer does --- */

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Feeds one byte; returns false if the client was dropped (message too large). */
static bool client_byte(struct qmp_client *c, char ch)
{
	if (c->garbage) {
		/* A bare word outside any object: answered once it ends. */
		if (is_ws(ch)) {
			c->garbage = false;
			reply_error(&c->out, "GenericError", "JSON parse error, expected a JSON object", NULL);
		}
		return true;
	}
	if (c->len == 0) {
		if (is_ws(ch))
			return true;
		if (ch != '{' && ch != '[') {
			c->garbage = true;
			return true;
		}
	}
	if (c->len == QMP_MAX_MSG) {
		reply_error(&c->out, "GenericError", "JSON message too large", NULL);
		if (client_flush(c))
			client_drop(c);
		return false;
	}
	c->msg[c->len++] = ch;
	if (c->in_str) {
		if (c->esc)
			c->esc = false;
		else if (ch == '\\')
			c->esc = true;
		else if (ch == '"')
			c->in_str = false;
	} else if (ch == '"') {
		c->in_str = true;
	} else if (ch == '{' || ch == '[') {
		c->depth++;
	} else if ((ch == '}' || ch == ']') && --c->depth == 0) {
		client_dispatch(c, c->msg, c->len);
		c->len = 0;
	}
	return true;
}

static void on_client(void *opaque, uint32_t events)
{
	struct qmp_client *c = opaque;
	if (events & EPOLLOUT && !client_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_drop(c); /* gone, possibly in the middle of a command: nothing to undo */
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (!client_byte(c, buf[i]))
			return;
	client_flush(c);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct qmp_client *c = opaque;
	(void)events;
	reply_error(&c->out, "GenericError", "no capabilities negotiation in time, closing", NULL);
	if (client_flush(c))
		client_drop(c);
}

static void client_drop(struct qmp_client *c)
{
	struct qmp *q = c->q;
	for (int i = 0; i < QMP_MAX_CLIENTS; i++)
		if (q->c[i] == c)
			q->c[i] = NULL;
	loop_del(q->loop, c->fd);
	loop_del(q->loop, c->timer);
	close(c->fd);
	close(c->timer);
	jbuf_free(&c->out);
	free(c->msg);
	free(c);
}

static void greet(struct qmp_client *c)
{
	jbuf_raw(&c->out, "{\"QMP\": {\"version\": ");
	version_info(&c->out);
	jbuf_raw(&c->out, ", \"capabilities\": []}}\r\n");
}

static void on_listen(void *opaque, uint32_t events)
{
	struct qmp *q = opaque;
	(void)events;
	int fd = accept4(q->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	int slot = 0;
	while (slot < QMP_MAX_CLIENTS && q->c[slot])
		slot++;
	struct qmp_client *c = slot < QMP_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
	if (c) {
		c->q = q;
		c->fd = fd;
		c->msg = malloc(QMP_MAX_MSG);
		c->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	}
	if (!c || !c->msg || c->timer < 0 || loop_add(q->loop, fd, EPOLLIN, on_client, c) ||
	    loop_add(q->loop, c->timer, EPOLLIN, on_timer, c)) {
		static const char busy[] = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"too many QMP clients\"}}\r\n";
		if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* It is being closed anyway. */
		}
		if (c) {
			loop_del(q->loop, fd);
			if (c->timer >= 0)
				close(c->timer);
			free(c->msg);
			free(c);
		}
		close(fd);
		return;
	}
	q->c[slot] = c;
	struct itimerspec t = {.it_value = {.tv_sec = q->negotiate_ms / 1000,
					    .tv_nsec = (q->negotiate_ms % 1000) * 1000000L}};
	timerfd_settime(c->timer, 0, &t, NULL);
	greet(c);
	client_flush(c);
}

/* --- the server --- */

int qmp_open(struct qmp **out, const char *path, struct loop *l, const struct qmp_ops *ops, void *opaque)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("--qmp: socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("--qmp: %s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path); /* a socket left by an earlier run */
	}
	strcpy(sa.sun_path, path);
	struct qmp *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->loop = l;
	q->ops = ops;
	q->opaque = opaque;
	q->negotiate_ms = QMP_NEGOTIATE_MS;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	if (q->fd < 0 || bind(q->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(q->fd, 4))
		err = -errno;
	else if (!(q->path = strdup(path)))
		err = -ENOMEM;
	else
		err = loop_add(l, q->fd, EPOLLIN, on_listen, q);
	if (err) {
		log_err("--qmp: cannot listen on %s: %s", path, strerror(-err));
		qmp_close(q);
		return err;
	}
	*out = q;
	return 0;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	for (int i = 0; i < QMP_MAX_CLIENTS; i++)
		if (q->c[i])
			client_drop(q->c[i]);
	if (q->fd >= 0) {
		loop_del(q->loop, q->fd);
		close(q->fd);
	}
	if (q->path && unlink(q->path) && errno != ENOENT)
		log_warn("--qmp: cannot remove %s: %s", q->path, strerror(errno));
	free(q->path);
	free(q);
}

void qmp_event(struct qmp *q, const char *name, const char *data)
{
	if (!q)
		return;
	for (int i = 0; i < QMP_MAX_CLIENTS; i++) {
		struct qmp_client *c = q->c[i];
		if (!c || !c->negotiated)
			continue;
		jbuf_raw(&c->out, "{\"event\": ");
		jbuf_str(&c->out, name);
		if (data) {
			jbuf_raw(&c->out, ", \"data\": ");
			jbuf_raw(&c->out, data);
		}
		jbuf_raw(&c->out, ", ");
		timestamp(&c->out);
		jbuf_raw(&c->out, "}\r\n");
		client_flush(c);
	}
}

void qmp_flush(struct qmp *q, int timeout_ms)
{
	if (!q)
		return;
	for (int i = 0; i < QMP_MAX_CLIENTS; i++) {
		struct qmp_client *c = q->c[i];
		if (!c || c->out_off == c->out.len)
			continue;
		struct pollfd p = {.fd = c->fd, .events = POLLOUT};
		if (poll(&p, 1, timeout_ms) > 0)
			client_flush(c);
	}
}

void qmp_set_negotiate_timeout(struct qmp *q, int ms)
{
	q->negotiate_ms = ms;
}

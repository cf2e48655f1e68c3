/* test_qmp.c: the QMP server (vmm/qmp.c) over a real unix socket on a real loop, with a fake
 * machine: QEMU's wire protocol, its error classes, and clients that misbehave. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "vmm/loop.h"
#include "vmm/qmp.h"

static char dir[64], path[96];
static struct loop *l;
static struct qmp *q;
static struct {
	int stops, conts, powerdowns, quits;
	char link_name[32];
	int link_up;
	const char *status;
} M;

static const char *m_status(void *o)
{
	(void)o;
	return M.status;
}
static int m_stop(void *o, struct qmp_error *e)
{
	(void)o, (void)e;
	M.stops++;
	M.status = "paused";
	return 0;
}
static int m_cont(void *o, struct qmp_error *e)
{
	(void)o, (void)e;
	M.conts++;
	M.status = "running";
	return 0;
}
static int m_powerdown(void *o, struct qmp_error *e)
{
	(void)o, (void)e;
	M.powerdowns++;
	return 0;
}
static void m_quit(void *o)
{
	(void)o;
	M.quits++;
}
static int m_set_link(void *o, const char *name, bool up, struct qmp_error *e)
{
	(void)o;
	if (strcmp(name, "net0")) {
		e->cls = "DeviceNotFound";
		snprintf(e->desc, sizeof(e->desc), "Device '%s' not found", name);
		return -1;
	}
	snprintf(M.link_name, sizeof(M.link_name), "%s", name);
	M.link_up = up;
	return 0;
}
static void m_net_stats(void *o, struct jbuf *out)
{
	(void)o;
	jbuf_raw(out, "[{\"name\": \"net0\"}]");
}

static const struct qmp_ops ops = {
    .status = m_status, .stop = m_stop, .cont = m_cont, .powerdown = m_powerdown,
    .quit = m_quit, .set_link = m_set_link, .net_stats = m_net_stats,
};

static void setup(void)
{
	memset(&M, 0, sizeof(M));
	M.status = "running";
	snprintf(dir, sizeof(dir), "/tmp/test_qmp.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	l = loop_new();
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(qmp_open(&q, path, l, &ops, NULL), 0);
}

static void teardown(void)
{
	qmp_close(q);
	q = NULL;
	loop_free(l);
	unlink(path);
	rmdir(dir);
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Runs the server until the client has a whole line (or gives up), returns it (static buffer),
 * "" at end of file. */
static const char *next_line(int fd)
{
	static char buf[1 << 16];
	static size_t have;
	static int owner = -1;
	if (owner != fd)
		have = 0, owner = fd;
	for (int i = 0; i < 400; i++) {
		char *nl = memchr(buf, '\n', have);
		if (nl) {
			static char line[1 << 16];
			size_t n = nl - buf + 1;
			memcpy(line, buf, n);
			line[n] = 0;
			memmove(buf, buf + n, have - n);
			have -= n;
			return line;
		}
		loop_run_once(l, 5);
		ssize_t r = recv(fd, buf + have, sizeof(buf) - have - 1, MSG_DONTWAIT);
		if (r == 0)
			return "";
		if (r > 0)
			have += r;
	}
	ck_abort_msg("no reply from the QMP server");
	return NULL;
}

static void say(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static const char *ask(int fd, const char *s)
{
	say(fd, s);
	return next_line(fd);
}

static int negotiated(void)
{
	int fd = client();
	ck_assert_ptr_nonnull(strstr(next_line(fd), "\"QMP\""));
	ck_assert_str_eq(ask(fd, "{\"execute\": \"qmp_capabilities\"}\n"), "{\"return\": {}}\r\n");
	return fd;
}

START_TEST(greeting_names_version_and_capabilities)
{
	int fd = client();
	const char *g = next_line(fd);
	ck_assert_ptr_nonnull(strstr(g, "{\"QMP\": {\"version\": {\"qemu\": {"));
	ck_assert_ptr_nonnull(strstr(g, "\"capabilities\": []"));
	close(fd);
}
END_TEST

START_TEST(commands_before_negotiation_are_command_not_found)
{
	int fd = client();
	next_line(fd);
	const char *r = ask(fd, "{\"execute\": \"query-status\"}\n");
	ck_assert_ptr_nonnull(strstr(r, "\"class\": \"CommandNotFound\""));
	ck_assert_ptr_nonnull(strstr(r, "Expecting capabilities negotiation"));
	close(fd);
}
END_TEST

START_TEST(query_status_reports_running_and_paused)
{
	int fd = negotiated();
	ck_assert_str_eq(ask(fd, "{\"execute\": \"query-status\"}"),
			 "{\"return\": {\"running\": true, \"status\": \"running\"}}\r\n");
	ck_assert_str_eq(ask(fd, "{\"execute\": \"stop\"}"), "{\"return\": {}}\r\n");
	ck_assert_int_eq(M.stops, 1);
	ck_assert_ptr_nonnull(strstr(ask(fd, "{\"execute\": \"query-status\"}"), "\"status\": \"paused\""));
	close(fd);
}
END_TEST

START_TEST(id_is_echoed_verbatim)
{
	int fd = negotiated();
	ck_assert_str_eq(ask(fd, "{\"execute\": \"cont\", \"id\": {\"n\": [1, \"x\"]}}"),
			 "{\"return\": {}, \"id\": {\"n\": [1, \"x\"]}}\r\n");
	ck_assert_ptr_nonnull(strstr(ask(fd, "{\"execute\": \"nope\", \"id\": 5}"), "\"id\": 5}"));
	close(fd);
}
END_TEST

START_TEST(unknown_command_is_command_not_found)
{
	int fd = negotiated();
	const char *r = ask(fd, "{\"execute\": \"device_add\"}");
	ck_assert_ptr_nonnull(strstr(r, "\"class\": \"CommandNotFound\""));
	ck_assert_ptr_nonnull(strstr(r, "The command device_add has not been found"));
	close(fd);
}
END_TEST

static const struct {
	const char *in, *desc;
} bad_args[] = {
    {"{\"execute\": \"set_link\", \"arguments\": {\"name\": \"net0\"}}", "Parameter 'up' is missing"},
    {"{\"execute\": \"set_link\", \"arguments\": {\"name\": \"net0\", \"up\": \"no\"}}",
     "Invalid parameter type for 'up', expected: boolean"},
    {"{\"execute\": \"set_link\", \"arguments\": {\"name\": 0, \"up\": true}}",
     "Invalid parameter type for 'name', expected: string"},
    {"{\"execute\": \"stop\", \"arguments\": {\"now\": true}}", "Parameter 'now' is unexpected"},
    {"{\"execute\": \"stop\", \"arguments\": []}", "QMP input member 'arguments' must be an object"},
    {"{\"execute\": 3}", "QMP input member 'execute' must be a string"},
    {"{\"exec\": \"stop\"}", "QMP input member 'exec' is unexpected"},
    {"{}", "QMP input lacks member 'execute'"},
    {"[1, 2]", "QMP input must be a JSON object"},
    {"{\"execute\": \"stop\",}", "JSON parse error"},
};

START_TEST(bad_envelopes_and_arguments_are_generic_errors)
{
	int fd = negotiated();
	const char *r = ask(fd, bad_args[_i].in);
	ck_assert_msg(strstr(r, "\"class\": \"GenericError\"") && strstr(r, bad_args[_i].desc), "%s -> %s",
		      bad_args[_i].in, r);
	ck_assert_int_eq(M.stops, 0);
	/* The connection survives every one of them. */
	ck_assert_ptr_nonnull(strstr(ask(fd, "{\"execute\": \"query-status\"}"), "\"return\""));
	close(fd);
}
END_TEST

START_TEST(set_link_reaches_the_machine_and_unknown_nic_is_device_not_found)
{
	int fd = negotiated();
	ck_assert_str_eq(ask(fd, "{\"execute\": \"set_link\", \"arguments\": {\"name\": \"net0\", \"up\": false}}"),
			 "{\"return\": {}}\r\n");
	ck_assert_str_eq(M.link_name, "net0");
	ck_assert_int_eq(M.link_up, 0);
	const char *r = ask(fd, "{\"execute\": \"set_link\", \"arguments\": {\"name\": \"net9\", \"up\": true}}");
	ck_assert_ptr_nonnull(strstr(r, "\"class\": \"DeviceNotFound\""));
	close(fd);
}
END_TEST

START_TEST(garbage_gets_an_error_and_the_next_command_works)
{
	int fd = negotiated();
	ck_assert_ptr_nonnull(strstr(ask(fd, "hello\n"), "JSON parse error"));
	ck_assert_ptr_nonnull(strstr(ask(fd, "{\"execute\": \"stop\"}"), "\"return\""));
	ck_assert_int_eq(M.stops, 1);
	close(fd);
}
END_TEST

START_TEST(messages_need_no_newline_and_may_share_a_write)
{
	int fd = negotiated();
	say(fd, "{\"execute\": \"stop\"}{\"execute\"");
	ck_assert_str_eq(next_line(fd), "{\"return\": {}}\r\n");
	say(fd, ": \"cont\", \"id\": \"}{\"}");
	ck_assert_str_eq(next_line(fd), "{\"return\": {}, \"id\": \"}{\"}\r\n");
	ck_assert_int_eq(M.stops, 1);
	ck_assert_int_eq(M.conts, 1);
	close(fd);
}
END_TEST

START_TEST(a_message_over_the_limit_is_refused_and_the_client_dropped)
{
	int fd = negotiated();
	fcntl(fd, F_SETFL, 0);
	say(fd, "{\"execute\": \"");
	char chunk[4096];
	memset(chunk, 'a', sizeof(chunk));
	for (size_t sent = 0; sent < QMP_MAX_MSG + sizeof(chunk);) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			sent += n;
		else if (errno == EPIPE || errno == ECONNRESET)
			break;
		loop_run_once(l, 5);
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ck_assert_ptr_nonnull(strstr(next_line(fd), "JSON message too large"));
	ck_assert_str_eq(next_line(fd), "");
	close(fd);
	/* The server goes on. */
	fd = negotiated();
	close(fd);
}
END_TEST

START_TEST(a_client_leaving_mid_command_does_not_disturb_the_next)
{
	int fd = negotiated();
	say(fd, "{\"execute\": \"set_li");
	loop_run_once(l, 5);
	close(fd);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 5);
	fd = negotiated();
	ck_assert_ptr_nonnull(strstr(ask(fd, "{\"execute\": \"query-status\"}"), "running"));
	close(fd);
}
END_TEST

START_TEST(a_silent_client_is_dropped_after_the_negotiation_timeout)
{
	qmp_set_negotiate_timeout(q, 20);
	int fd = client();
	next_line(fd);
	ck_assert_ptr_nonnull(strstr(next_line(fd), "no capabilities negotiation"));
	ck_assert_str_eq(next_line(fd), "");
	close(fd);
}
END_TEST

START_TEST(a_client_that_never_reads_is_dropped_not_buffered)
{
	int fd = negotiated();
	int sz = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	const char cmd[] = "{\"execute\": \"query-commands\"}";
	bool dropped = false;
	for (int i = 0; i < 20000 && !dropped; i++) {
		if (send(fd, cmd, sizeof(cmd) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN)
			dropped = true;
		loop_run_once(l, 0);
	}
	/* Either send failed (peer gone) or draining now reaches end of file. */
	if (!dropped) {
		char buf[65536];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			loop_run_once(l, 0);
		dropped = n == 0 || errno == ECONNRESET;
	}
	ck_assert(dropped);
	close(fd);
}
END_TEST

START_TEST(events_reach_negotiated_clients_with_a_timestamp)
{
	int a = negotiated(), b = client();
	next_line(b);
	qmp_event(q, "POWERDOWN", NULL);
	qmp_event(q, "SHUTDOWN", "{\"guest\": true, \"reason\": \"guest-shutdown\"}");
	const char *e = next_line(a);
	ck_assert_ptr_nonnull(strstr(e, "{\"event\": \"POWERDOWN\", \"timestamp\": {\"seconds\": "));
	e = next_line(a);
	ck_assert_ptr_nonnull(strstr(e, "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true"));
	/* b did not negotiate: its next line is the answer to its own command, no event. */
	ck_assert_ptr_nonnull(strstr(ask(b, "{\"execute\": \"qmp_capabilities\"}"), "{\"return\": {}}"));
	close(a);
	close(b);
}
END_TEST

START_TEST(query_commands_lists_what_is_served)
{
	int fd = negotiated();
	const char *r = ask(fd, "{\"execute\": \"query-commands\"}");
	const char *want[] = {"qmp_capabilities", "query-version", "query-status", "stop", "cont",
			      "system_powerdown", "quit", "set_link", "x-query-net-stats"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "{\"name\": \"%s\"}", want[i]);
		ck_assert_msg(strstr(r, name), "%s missing in %s", want[i], r);
	}
	ck_assert_ptr_nonnull(strstr(ask(fd, "{\"execute\": \"query-version\"}"), "\"package\": \"minivmm"));
	ck_assert_str_eq(ask(fd, "{\"execute\": \"x-query-net-stats\"}"), "{\"return\": [{\"name\": \"net0\"}]}\r\n");
	ck_assert_str_eq(ask(fd, "{\"execute\": \"quit\"}"), "{\"return\": {}}\r\n");
	ck_assert_int_eq(M.quits, 1);
	ck_assert_str_eq(ask(fd, "{\"execute\": \"system_powerdown\"}"), "{\"return\": {}}\r\n");
	ck_assert_int_eq(M.powerdowns, 1);
	close(fd);
}
END_TEST

START_TEST(an_existing_non_socket_path_is_refused_and_the_socket_goes_at_close)
{
	char other[128];
	snprintf(other, sizeof(other), "%s/file", dir);
	int fd = open(other, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct qmp *q2;
	ck_assert_int_eq(qmp_open(&q2, other, l, &ops, NULL), -EEXIST);
	unlink(other);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	qmp_close(q);
	q = NULL;
	ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp");
	TCase *tc = tcase_create("qmp");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, greeting_names_version_and_capabilities);
	tcase_add_test(tc, commands_before_negotiation_are_command_not_found);
	tcase_add_test(tc, query_status_reports_running_and_paused);
	tcase_add_test(tc, id_is_echoed_verbatim);
	tcase_add_test(tc, unknown_command_is_command_not_found);
	tcase_add_loop_test(tc, bad_envelopes_and_arguments_are_generic_errors, 0,
			    sizeof(bad_args) / sizeof(bad_args[0]));
	tcase_add_test(tc, set_link_reaches_the_machine_and_unknown_nic_is_device_not_found);
	tcase_add_test(tc, garbage_gets_an_error_and_the_next_command_works);
	tcase_add_test(tc, messages_need_no_newline_and_may_share_a_write);
	tcase_add_test(tc, a_message_over_the_limit_is_refused_and_the_client_dropped);
	tcase_add_test(tc, a_client_leaving_mid_command_does_not_disturb_the_next);
	tcase_add_test(tc, a_silent_client_is_dropped_after_the_negotiation_timeout);
	tcase_add_test(tc, a_client_that_never_reads_is_dropped_not_buffered);
	tcase_add_test(tc, events_reach_negotiated_clients_with_a_timestamp);
	tcase_add_test(tc, query_commands_lists_what_is_served);
	tcase_add_test(tc, an_existing_non_socket_path_is_refused_and_the_socket_goes_at_close);
	suite_add_tcase(s, tc);
	return unit_run(s);
}

/* term.c: raw mode and its restoration. */
#include "vmm/term.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile sig_atomic_t saved_fd = -1;

void term_restore(void)
{
	if (saved_fd >= 0) {
		tcsetattr(saved_fd, TCSANOW, &saved);
		saved_fd = -1;
	}
}

static void term_fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int term_raw(int fd)
{
	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &saved) < 0)
		return -errno;
	struct termios raw = saved;
	cfmakeraw(&raw);
	/* Keep output post-processing off as cfmakeraw does: the guest sends its own \r\n. */
	saved_fd = fd;
	atexit(term_restore);
	/* SIGINT/SIGTERM/SIGHUP are handled by the main loop; these end us without it. */
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGQUIT };
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], term_fatal_signal);
	return tcsetattr(fd, TCSANOW, &raw) < 0 ? -errno : 0;
}

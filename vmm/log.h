/* log.h: one-line diagnostics. Setup errors travel up as -errno to main, which prints and exits. */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H
#include <stdio.h>

#define EXIT_BADINPUT 2 /* bad CLI, bad files, unusable /dev/kvm */
#define EXIT_RUNTIME 1  /* the VMM or the guest failed while running */

/* "minivmm: <msg>" on stderr. */
#define log_err(...) (fprintf(stderr, "minivmm: " __VA_ARGS__), fputc('\n', stderr))
#define log_warn(...) (fprintf(stderr, "minivmm: warning: " __VA_ARGS__), fputc('\n', stderr))

/* Debug output for guest misbehaviour; off unless MINIVMM_DEBUG is set in the environment. */
extern int log_debug_on;
#define log_dbg(...)                                                                       \
	do {                                                                               \
		if (log_debug_on)                                                          \
			(fprintf(stderr, "minivmm: debug: " __VA_ARGS__), fputc('\n', stderr)); \
	} while (0)
#endif

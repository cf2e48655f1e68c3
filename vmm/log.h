/* log.h: one-line diagnostics. Setup errors travel up as -errno to main, which prints and exits.
 *
 * Anything a guest can trigger goes through log_guest() instead of log_warn(): a guest must not be
 * able to fill the host's disk. Each call site has a struct log_site; the first LOG_GUEST_BURST
 * events of a site are printed, after that at most one line per LOG_GUEST_INTERVAL_NS (printed
 * lazily, by the next event after the interval has passed, and saying how many were not shown).
 * Every event is counted; --stats prints the counts (log_guest_stats_print). */
#ifndef MINIVMM_LOG_H
#define MINIVMM_LOG_H
#include <stdint.h>
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

#define LOG_GUEST_BURST	      3			      /* lines printed before rate limiting */
#define LOG_GUEST_INTERVAL_NS (10ULL * 1000000000ULL) /* then at most one line per 10 s */

/* One kind of guest-triggered event. Must have static storage duration: the first event links it
 * into the list --stats prints, for the program's life. All fields are private to log.c and
 * updated atomically: any thread may log to any site. */
struct log_site {
	const char *name; /* short key for --stats, e.g. "net_malformed_chain" */
	uint64_t count;	  /* events so far */
	uint64_t shown;	  /* count at the last line printed */
	uint64_t last_ns; /* clock at the last line printed */
	int linked;
	struct log_site *next;
};
/* clang-format off */
#define LOG_SITE_INIT(key) {.name = (key)}
/* clang-format on */

/* Counts an event of `site` and prints "minivmm: <fmt...>" if the rate limit allows, with
 * " (N more not shown)" when events were suppressed since the last line. */
void log_guest(struct log_site *site, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with a site of its own at the call site. */
#define LOG_GUEST(key, ...)                                                                                  \
	do {                                                                                                 \
		static struct log_site log_site_ = LOG_SITE_INIT(key);                                       \
		log_guest(&log_site_, __VA_ARGS__);                                                          \
	} while (0)

uint64_t log_site_count(const struct log_site *site);
/* --stats: "stats: guest-events <key>=<count> ..." for every site that saw an event (nothing
 * if none did). */
void log_guest_stats_print(FILE *f);

/* Test seams: where lines go (NULL: stderr) and the clock (NULL: CLOCK_MONOTONIC). Set them
 * before any thread logs. */
extern FILE *log_guest_out;
extern uint64_t (*log_guest_clock)(void);
#endif

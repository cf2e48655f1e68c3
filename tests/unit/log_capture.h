/* log_capture.h: what a device's guest-triggered diagnostics (log_guest, vmm/log.h) printed and
 * counted, for tests that pin a call site's rate limit. */
#ifndef MINIVMM_LOG_CAPTURE_H
#define MINIVMM_LOG_CAPTURE_H
#include "vmm/log.h"

/* From now on guest-triggered lines go to a memory stream, with a clock that never moves: the rate
 * limit prints exactly LOG_GUEST_BURST lines per site. */
void guest_log_capture(void);
/* How many captured lines contain `what`. */
int guest_log_lines(const char *what);
/* The --stats count of guest-event key `key`, -1 if it never fired. */
long guest_event_count(const char *key);
#endif

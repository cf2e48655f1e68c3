/* term.h: the console's host terminal: raw mode while the guest owns it, restored on every exit
 * path (normal exit, error exit, fatal signal). */
#ifndef MINIVMM_TERM_H
#define MINIVMM_TERM_H
/* Puts fd into raw mode if it is a terminal; registers the restore. 0 or -errno. */
int term_raw(int fd);
/* Restores the saved mode (idempotent, async-signal-safe). */
void term_restore(void);
#endif

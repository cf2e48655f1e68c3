/*
 * cli.h: turns minivmm's command line into a struct vm_config (vmm/config.h).
 * Never exits and keeps no state between calls, so tests can parse many command lines.
 */
#ifndef MINIVMM_CLI_H
#define MINIVMM_CLI_H
#include <stdio.h>
#include "vmm/config.h"

#define MINIVMM_VERSION	    "0.1.0"
#define CLI_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"
#define CLI_DEFAULT_MEM	    (512ULL << 20)
#define CLI_DEFAULT_CPUS    1
/* The sanitizer build (MINIVMM_TEST_HOOKS) defaults to no filters: its runtime's reports and the
 * exit-time leak check open files, ptrace and fork, which no filter of ours allows. */
#ifdef MINIVMM_TEST_HOOKS
#define CLI_DEFAULT_SECCOMP false
#else
#define CLI_DEFAULT_SECCOMP true
#endif

/*
 * Fills *cfg from argv (defaults first; strings point into argv). Returns 0 to run the VM,
 * 1 when --help or --version was printed to stdout (exit 0), or -EINVAL after printing exactly
 * one "minivmm: ..." line naming the bad option and value (exit EXIT_BADINPUT).
 * With no --net, cfg gets one user NIC with defaults; "--net none" gives none (no_net).
 */
int cli_parse(int argc, char **argv, struct vm_config *cfg);

void cli_usage(FILE *f);

#endif

/* log.c: the debug switch behind log_dbg(). */
#include "vmm/log.h"

int log_debug_on;

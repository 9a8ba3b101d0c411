/* The proc accelerator (accel/proc.c): the guest as a sandboxed process. */
#ifndef CSC_VMM_ACCEL_PROC_H
#define CSC_VMM_ACCEL_PROC_H

#include <stddef.h>

/* 0 when this machine can run proc guests (the sandbox binary is there),
 * else -errno with the reason in err. Cheap: no process is started. */
int proc_accel_probe(char *err, size_t errlen);

#endif

/* The VMM as a client of a compsc-nic's PF control socket (pf.sock,
 * docs/nic.md): what a hypervisor asks the host's PF driver for CompSC -
 * stop or restart a VF's queues, read its registers without side effects,
 * take the frames held while it was stopped, inject frames, assign a MAC.
 * One command line, one JSON reply line; the NIC is another process, so
 * every reply is checked. */
#ifndef CSC_VMM_PF_CLIENT_H
#define CSC_VMM_PF_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* Sends line, returns the reply object (caller json_decref's it), or NULL
 * with the reason in err (connection, timeout, not JSON, or the NIC's own
 * "error" member). */
json_t *pf_call(const char *pf_path, const char *line, char *err, size_t errlen);

#endif

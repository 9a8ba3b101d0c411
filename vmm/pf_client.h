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

#define PF_LINE_MAX 4096	/* one command line, newline excluded (the NIC's limit) */

/* Sends line, returns the reply object (caller json_decref's it), or NULL
 * with the reason in err (connection, timeout, not JSON, or the NIC's own
 * "error" member). */
json_t *pf_call(const char *pf_path, const char *line, char *err, size_t errlen);

/* Sends n lines at once and reads their n replies (in order) on one
 * connection: one round trip to the NIC's event loop instead of n, for
 * the commands a migration's downtime waits on. The NIC runs them one
 * after the other whatever their replies, so batch only commands that may
 * run after a failed one. replies[i] is the object or NULL (the caller
 * json_decref's the others); 0 if all n are objects without "error", else
 * -1 with the first reason in err. */
int pf_call_batch(const char *pf_path, const char *const *lines, unsigned n, json_t **replies, char *err,
		  size_t errlen);
/* pf_call_batch in two halves, to do something else while the NIC works:
 * send returns the connection (or -1, reason in err); recv reads the
 * replies as above and closes it (the same lines, for messages). */
int pf_batch_send(const char *pf_path, const char *const *lines, unsigned n, char *err, size_t errlen);
int pf_batch_recv(int fd, const char *pf_path, const char *const *lines, unsigned n, json_t **replies, char *err,
		  size_t errlen);

#endif

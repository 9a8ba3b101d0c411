/* The VMM's side of vfio-user (common/vfio_user.h): one connection to one
 * device process. Requests wait for their reply; posted messages (register
 * writes) do not, which keeps PCIe's ordering: a later read is answered
 * only after every earlier write was applied, because the stream is
 * processed in order. Thread-safe (vCPU threads share it). */
#ifndef CSC_VMM_VFIO_USER_CLIENT_H
#define CSC_VMM_VFIO_USER_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfu_client {
	int fd;
	pthread_mutex_t lock;
	uint16_t next_id;
	bool dead;		/* the device process went away */
	char path[108];
};

int vfu_client_connect(struct vfu_client *c, const char *path, char *err, size_t err_len);
void vfu_client_close(struct vfu_client *c);

/* Sends a command and waits for its reply (copied into reply, at most
 * reply_cap bytes; *reply_len gets its size). Returns 0, -errno from the
 * device's error reply, or -EPIPE / -ETIMEDOUT / -EPROTO for a broken
 * connection (after which the client is dead). */
int vfu_client_request(struct vfu_client *c, uint16_t command, const void *payload, size_t len,
		       const int *fds, unsigned n_fds, void *reply, size_t reply_cap, size_t *reply_len);
/* Sends a command that needs no reply. */
int vfu_client_post(struct vfu_client *c, uint16_t command, const void *payload, size_t len);

#endif

/* What net.c, net_tap.c and net_state.c share about one virtio-net device,
 * and the hooks unit tests use to run the device model without KVM. Not for
 * other modules: they use net.h. */
#ifndef CSC_VMM_VIRTIO_NET_INTERNAL_H
#define CSC_VMM_VIRTIO_NET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../common/tap.h"
#include "../../common/virtio.h"
#include "mmio.h"
#include "net.h"
#include "virtqueue.h"

struct device_ops;

struct virtio_net {
	/* Transport: registers, the two queues, and the lock that guards
	 * them and everything below marked (lock). */
	struct virtio_mmio mmio;
	struct vm *vm;		/* NULL for a model without KVM (tests) */
	unsigned instance;
	struct virtio_net_config cfg;	/* (lock) */
	/* Stopped with the VM (pause hook), or received by migration and not
	 * activated yet: the back-end touches neither queues nor memory.
	 * (lock) */
	bool quiesced;

	/* Back-end (net_tap.c); fds are -1 until opened. */
	char tap_name[TAP_IFNAMSIZ];
	int tap_fd;
	int ctl_fd;		/* eventfd: registers changed, or stop */
	int epfd;
	bool tap_polled;
	volatile bool stop;
	pthread_t thread;
	bool thread_started;
	struct vq_chain chain;	/* back-end thread only */
	struct iovec iov[VQ_MAX_CHAIN];
	struct virtio_net_stats st;	/* (lock), but kicks: back-end thread */
};

/* net.c: the device model alone (transport at reset, configuration
 * space), on guest RAM `mem`; no TAP, KVM or thread. NULL if out of memory.
 * virtio_net_create builds on it; unit tests use it as is, with
 * virtio_mmio_access for register accesses and virtio_net_destroy. */
struct virtio_net *virtio_net_model_create(const struct virtio_net_opts *o, unsigned instance,
					   const struct vq_mem *mem);
/* The migration registry entry of this instance (its versions). */
const struct device_ops *virtio_net_mig_ops_of(const struct virtio_net *n);
/* Pause hooks: pausing waits for a processing pass in flight. */
void virtio_net_pause(void *opaque);
void virtio_net_resume(void *opaque);

/* net_tap.c */
/* Opens the TAP device of o. 0 or -errno (logged). */
int net_tap_open(struct virtio_net *n, const char *tap);
/* Starts the back-end thread on the TAP and the queues' kick fds. */
int net_backend_start(struct virtio_net *n);
/* Lock held or not: tells the back-end to look at the registers again.
 * Nothing to do without a back-end (a model in a unit test). */
void net_backend_wake(struct virtio_net *n);
/* Stops and joins the thread, closes the back-end's fds. */
void net_backend_stop(struct virtio_net *n);

#endif

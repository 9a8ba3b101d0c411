/* A minimal epoll loop for the main thread of the host programs: timers,
 * device back-ends, sockets register file descriptors with a callback.
 * In compsc-vmm, vCPUs never run here. */
#ifndef CSC_COMMON_EVENT_LOOP_H
#define CSC_COMMON_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*evloop_cb)(void *opaque, uint32_t events);

struct evloop_handler;

struct evloop {
	int epoll_fd;
	int wake_fd;		/* eventfd: makes evloop_run() re-check `quit` */
	volatile bool quit;
	struct evloop_handler *handlers;
	struct evloop_handler *graveyard;	/* removed, freed after the batch */
};

int evloop_init(struct evloop *loop);
void evloop_destroy(struct evloop *loop);
/* events: EPOLLIN / EPOLLOUT ... Returns 0 or -errno. */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque);
int evloop_remove(struct evloop *loop, int fd);
/* Changes the events a registered fd is watched for (0: none, for now). */
int evloop_modify(struct evloop *loop, int fd, uint32_t events);
/* Runs until evloop_stop(). */
int evloop_run(struct evloop *loop);
/* Thread-safe: may be called from vCPU threads. */
void evloop_stop(struct evloop *loop);

#endif

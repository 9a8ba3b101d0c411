#include "event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct evloop_handler {
	int fd;
	evloop_cb cb;
	void *opaque;
	bool removed;
	struct evloop_handler *next;
};

int evloop_init(struct evloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		return -errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		int ret = -errno;
		close(loop->epoll_fd);
		return ret;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0) {
		int ret = -errno;
		close(loop->wake_fd);
		close(loop->epoll_fd);
		return ret;
	}
	return 0;
}

static void free_graveyard(struct evloop *loop)
{
	while (loop->graveyard) {
		struct evloop_handler *next = loop->graveyard->next;
		free(loop->graveyard);
		loop->graveyard = next;
	}
}

void evloop_destroy(struct evloop *loop)
{
	struct evloop_handler *h = loop->handlers;

	free_graveyard(loop);
	while (h) {
		struct evloop_handler *next = h->next;
		free(h);
		h = next;
	}
	close(loop->wake_fd);
	close(loop->epoll_fd);
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_cb cb, void *opaque)
{
	struct evloop_handler *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	*h = (struct evloop_handler){ .fd = fd, .cb = cb, .opaque = opaque, .next = loop->handlers };
	struct epoll_event ev = { .events = events, .data.ptr = h };
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;
		free(h);
		return ret;
	}
	loop->handlers = h;
	return 0;
}

int evloop_remove(struct evloop *loop, int fd)
{
	for (struct evloop_handler **p = &loop->handlers; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			struct evloop_handler *h = *p;
			epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
			*p = h->next;
			/* The current epoll batch may still name this handler:
			 * free it only after the batch (evloop_run). */
			h->removed = true;
			h->next = loop->graveyard;
			loop->graveyard = h;
			return 0;
		}
	}
	return -ENOENT;
}

int evloop_modify(struct evloop *loop, int fd, uint32_t events)
{
	for (struct evloop_handler *h = loop->handlers; h; h = h->next) {
		if (h->fd == fd) {
			struct epoll_event ev = { .events = events, .data.ptr = h };
			return epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
		}
	}
	return -ENOENT;
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event events[16];

	while (!loop->quit) {
		int n = epoll_wait(loop->epoll_fd, events, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("event loop: epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && !loop->quit; i++) {
			struct evloop_handler *h = events[i].data.ptr;
			if (!h) {
				uint64_t v;
				if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_warn("event loop: wake read: %s", strerror(errno));
				continue;
			}
			if (!h->removed)
				h->cb(h->opaque, events[i].events);
		}
		free_graveyard(loop);
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	loop->quit = true;
	if (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("event loop: wake write: %s", strerror(errno));
}

/* The hot-plug controller: see hotplug.h. */
#include "hotplug.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/platform_regs.h"
#include "vf_device.h"
#include "vm.h"

struct hotplug {
	struct vm *vm;
	int irq_efd;		/* the platform's interrupt */
	int ack_efd;		/* vCPU thread (ACK) -> main loop */
	int timer_fd;		/* the request's deadline */
	/* HOTPLUG_REQ. Whoever moves it from the posted value to 0 owns the
	 * outcome: the ACK (vCPU thread) or the deadline (main thread). */
	_Atomic uint32_t req;
	_Atomic uint64_t ack_at_ns;

	/* Main thread only. */
	bool pending;
	uint32_t posted;
	uint16_t seq;
	struct vf_device *dev;
	uint64_t start_ns, post_ns, attach_ns;
	hotplug_done_fn done;
	void *opaque;
};

static void finish(struct hotplug *hp, int ret, const char *why)
{
	struct hotplug_result r = {
		.slot = CSC_HP_SLOT(hp->posted), .op = CSC_HP_OP(hp->posted), .ret = ret,
		.attach_ns = hp->attach_ns,
	};
	uint64_t ack = atomic_load(&hp->ack_at_ns);

	timerfd_settime(hp->timer_fd, 0, &(struct itimerspec){ 0 }, NULL);
	if (ret == 0 && ack)
		r.ack_ns = ack - hp->post_ns;
	if (ret == 0 && r.op == CSC_HP_EJECT) {
		uint64_t t = now_ns();
		vf_device_unplug(hp->dev);
		r.attach_ns = now_ns() - t;
	}
	r.total_ns = now_ns() - hp->start_ns;
	if (why)
		snprintf(r.err, sizeof(r.err), "%s", why);
	hp->pending = false;
	hp->posted = 0;
	hotplug_done_fn done = hp->done;
	hp->done = NULL;
	if (ret == 0)
		log_info("hotplug: vf%u %s done: acknowledged after %.1f ms, %.1f ms in all", r.slot,
			 r.op == CSC_HP_EJECT ? "eject" : "insert", r.ack_ns / 1e6, r.total_ns / 1e6);
	else
		log_warn("hotplug: %s", r.err);
	if (done)
		done(hp->opaque, &r);
}

static void ack_ready(void *opaque, uint32_t events)
{
	struct hotplug *hp = opaque;
	uint64_t n;

	(void)events;
	if (read(hp->ack_efd, &n, sizeof(n)) != sizeof(n) || !hp->pending)
		return;
	if (atomic_load(&hp->req) == 0 && atomic_load(&hp->ack_at_ns))
		finish(hp, 0, NULL);
}

static void deadline(void *opaque, uint32_t events)
{
	struct hotplug *hp = opaque;
	uint64_t n;
	uint32_t expect;
	char why[300];

	(void)events;
	if (read(hp->timer_fd, &n, sizeof(n)) != sizeof(n) || !hp->pending)
		return;
	expect = hp->posted;
	if (!atomic_compare_exchange_strong(&hp->req, &expect, 0))
		return;	/* acknowledged meanwhile: ack_ready finishes */
	unsigned slot = CSC_HP_SLOT(hp->posted);
	uint64_t waited = (now_ns() - hp->post_ns) / 1000000;
	if (CSC_HP_OP(hp->posted) == CSC_HP_EJECT)
		snprintf(why, sizeof(why), "device-del vf%u: the guest did not acknowledge the removal within %llu ms "
			 "(no hot-plug support, or bond=1 not set?): vf%u stays attached", slot,
			 (unsigned long long)waited, slot);
	else
		snprintf(why, sizeof(why), "device-add vf%u: the guest did not acknowledge the insertion within %llu ms: "
			 "vf%u is attached, the guest has not taken it into use", slot, (unsigned long long)waited,
			 slot);
	finish(hp, -ETIMEDOUT, why);
}

static int post(struct hotplug *hp, struct vf_device *d, unsigned op, uint32_t timeout_ms, hotplug_done_fn done,
		void *opaque)
{
	if (++hp->seq == 0)
		hp->seq = 1;
	hp->dev = d;
	hp->done = done;
	hp->opaque = opaque;
	hp->posted = CSC_HP_REQ(d->instance, op, hp->seq);
	hp->pending = true;
	atomic_store(&hp->ack_at_ns, 0);
	hp->post_ns = now_ns();
	struct itimerspec its = {
		.it_value = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000 },
	};
	timerfd_settime(hp->timer_fd, 0, &its, NULL);
	/* The request is visible before the interrupt that announces it. */
	atomic_store(&hp->req, hp->posted);
	irq_raise(hp->irq_efd);
	log_info("hotplug: vf%u: %s requested (0x%08x), %u ms for the guest to acknowledge", d->instance,
		 op == CSC_HP_EJECT ? "eject" : "insert", hp->posted, timeout_ms);
	return 0;
}

static struct vf_device *check_request(struct hotplug *hp, unsigned slot, uint32_t timeout_ms, char *err,
				       size_t errlen, int *ret)
{
	struct vf_device *d = slot < CSC_HP_MAX_SLOTS ? vm_find_vf(hp->vm, slot) : NULL;

	*ret = 0;
	if (hp->pending) {
		snprintf(err, errlen, "a hot-plug request for vf%u is pending", CSC_HP_SLOT(hp->posted));
		*ret = -EBUSY;
	} else if (!d) {
		snprintf(err, errlen, "no VF slot vf%u (the VMM has %u: --vf / --vf-unplugged)", slot, hp->vm->n_vfs);
		*ret = -ENODEV;
	} else if (timeout_ms == 0 || timeout_ms > HOTPLUG_TIMEOUT_MS_MAX) {
		snprintf(err, errlen, "timeout-ms must be 1..%d", HOTPLUG_TIMEOUT_MS_MAX);
		*ret = -EINVAL;
	}
	return *ret ? NULL : d;
}

int hotplug_eject(struct hotplug *hp, unsigned slot, uint32_t timeout_ms, hotplug_done_fn done, void *opaque,
		  char *err, size_t errlen)
{
	int ret;
	struct vf_device *d = check_request(hp, slot, timeout_ms, err, errlen, &ret);

	if (!d)
		return ret;
	if (!atomic_load(&d->present)) {
		snprintf(err, errlen, "vf%u is not attached", slot);
		return -EALREADY;
	}
	hp->start_ns = now_ns();
	hp->attach_ns = 0;
	return post(hp, d, CSC_HP_EJECT, timeout_ms, done, opaque);
}

int hotplug_insert(struct hotplug *hp, unsigned slot, const char *path, uint32_t timeout_ms, hotplug_done_fn done,
		   void *opaque, char *err, size_t errlen)
{
	int ret;
	struct vf_device *d = check_request(hp, slot, timeout_ms, err, errlen, &ret);

	if (!d)
		return ret;
	if (atomic_load(&d->present)) {
		snprintf(err, errlen, "vf%u is attached already (%s): device-del it first", slot, d->path);
		return -EALREADY;
	}
	hp->start_ns = now_ns();
	if ((ret = vf_device_plug(d, path ? path : d->path, err, errlen)) < 0)
		return ret;
	hp->attach_ns = now_ns() - hp->start_ns;
	return post(hp, d, CSC_HP_INSERT, timeout_ms, done, opaque);
}

bool hotplug_pending(const struct hotplug *hp)
{
	return hp->pending;
}

uint32_t hotplug_reg_read(struct hotplug *hp, uint64_t offset)
{
	uint32_t v = 0;

	if (offset == CSC_PLAT_HOTPLUG_REQ)
		return atomic_load(&hp->req);
	if (offset == CSC_PLAT_HOTPLUG_PRESENT) {
		/* The slot list is fixed once the vCPUs run. */
		for (unsigned i = 0; i < hp->vm->n_vfs; i++) {
			struct vf_device *d = hp->vm->vfs[i];
			if (d->instance < CSC_HP_MAX_SLOTS && atomic_load(&d->present))
				v |= 1u << d->instance;
		}
	}
	return v;
}

void hotplug_reg_write(struct hotplug *hp, uint64_t offset, uint32_t value)
{
	uint32_t expect = value;
	uint64_t one = 1;

	if (offset != CSC_PLAT_HOTPLUG_ACK || value == 0)
		return;
	/* Guest-written: only the pending request's exact value counts. */
	if (!atomic_compare_exchange_strong(&hp->req, &expect, 0)) {
		log_debug("hotplug: ignored ACK 0x%08x (pending 0x%08x)", value, expect);
		return;
	}
	atomic_store(&hp->ack_at_ns, now_ns());
	if (write(hp->ack_efd, &one, sizeof(one)) != sizeof(one))
		log_warn("hotplug: cannot signal the ACK: %s", strerror(errno));
}

struct hotplug *hotplug_create(struct vm *vm, int irq_efd, char *err, size_t errlen)
{
	struct hotplug *hp = calloc(1, sizeof(*hp));

	if (!hp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	hp->vm = vm;
	hp->irq_efd = irq_efd;
	hp->ack_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	hp->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (hp->ack_efd < 0 || hp->timer_fd < 0) {
		snprintf(err, errlen, "hotplug: eventfd/timerfd: %s", strerror(errno));
		goto fail;
	}
	int ret = evloop_add(&vm->loop, hp->ack_efd, EPOLLIN, ack_ready, hp);
	if (ret == 0 && (ret = evloop_add(&vm->loop, hp->timer_fd, EPOLLIN, deadline, hp)) < 0)
		evloop_remove(&vm->loop, hp->ack_efd);
	if (ret < 0) {
		snprintf(err, errlen, "hotplug: event loop: %s", strerror(-ret));
		goto fail;
	}
	return hp;
fail:
	if (hp->ack_efd >= 0)
		close(hp->ack_efd);
	if (hp->timer_fd >= 0)
		close(hp->timer_fd);
	free(hp);
	return NULL;
}

void hotplug_destroy(struct hotplug *hp)
{
	if (!hp)
		return;
	evloop_remove(&hp->vm->loop, hp->ack_efd);
	evloop_remove(&hp->vm->loop, hp->timer_fd);
	close(hp->ack_efd);
	close(hp->timer_fd);
	free(hp);
}

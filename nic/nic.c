#include "nic.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vfio_user_server.h"

static uint64_t monotonic_clock(struct nic *nic)
{
	(void)nic;
	return now_ns();
}

uint64_t nic_now_ns(struct nic *nic)
{
	return nic->clock(nic);
}

int nic_init(struct nic *nic, const struct nic_config *cfg)
{
	if (cfg->n_vfs < 1 || cfg->n_vfs > NIC_MAX_VFS)
		return -EINVAL;
	memset(nic, 0, sizeof(*nic));
	nic->n_vfs = cfg->n_vfs;
	nic->timer_fd = -1;
	nic->clock = monotonic_clock;
	for (unsigned i = 0; i < cfg->n_vfs; i++) {
		struct nic_vf_slot *s = &nic->slot[i];
		for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
			s->irq_fd[v] = -1;
		s->listen_fd = -1;
		memcpy(s->perm_mac, cfg->mac_base, 6);
		s->perm_mac[5] = (uint8_t)(cfg->mac_base[5] + i);
		memcpy(s->mac, s->perm_mac, 6);
		nic_vf_init(&s->vf, i, &nic_vf_ops, nic);
	}
	token_bucket_init(&nic->egress, cfg->rate_bps, nic_now_ns(nic));
	token_bucket_init(&nic->ingress, cfg->rate_bps, nic_now_ns(nic));
	return 0;
}

void nic_destroy(struct nic *nic)
{
	for (unsigned i = 0; i < nic->n_vfs; i++) {
		struct nic_vf_slot *s = &nic->slot[i];
		if (s->conn)
			vfio_user_conn_close(nic, s);
		for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
			if (s->irq_fd[v] >= 0)
				close(s->irq_fd[v]);
		nic_vf_destroy(&s->vf);
	}
	if (nic->timer_fd >= 0)
		close(nic->timer_fd);
}

void nic_service(struct nic *nic)
{
	uint64_t now = nic_now_ns(nic), next = UINT64_MAX;

	/* 1. Run what is due: throttled interrupts, and stalled transmit
	 * once the line has credit again. */
	nic->uplink_busy = false;
	for (unsigned i = 0; i < nic->n_vfs; i++) {
		struct nic_vf *vf = &nic->slot[i].vf;
		if (nic_vf_next_deadline(vf) <= now ||
		    (vf->tx_stalled && token_bucket_ready_at(&nic->egress, 2048, now) <= now))
			nic_vf_poll_timers(vf);
	}
	/* The uplink waited for ingress credit: read it again once paid. */
	if (nic->uplink_paused && token_bucket_ready_at(&nic->ingress, 0, now) <= now) {
		nic->uplink_paused = false;
		evloop_modify(nic->loop, uplink_fd(nic->uplink), EPOLLIN);
	}
	if (nic->uplink_paused)
		next = token_bucket_ready_at(&nic->ingress, 0, now);
	/* 2. When to come back. */
	for (unsigned i = 0; i < nic->n_vfs; i++) {
		struct nic_vf *vf = &nic->slot[i].vf;
		uint64_t due = nic_vf_next_deadline(vf);
		if (vf->tx_stalled) {
			/* When a full-size frame's credit is there, or after a
			 * short pause if the port itself was full. */
			uint64_t ready = token_bucket_ready_at(&nic->egress, 1600, now);
			due = ready > now ? ready : now + (nic->uplink_busy ? 10000 : 1000);
		}
		if (due < next)
			next = due;
	}
	if (nic->timer_fd < 0)
		return;
	struct itimerspec its = { 0 };
	if (next != UINT64_MAX) {
		uint64_t delta = next > now ? next - now : 1000;
		its.it_value.tv_sec = (time_t)(delta / 1000000000ull);
		its.it_value.tv_nsec = (long)(delta % 1000000000ull);
	}
	timerfd_settime(nic->timer_fd, 0, &its, NULL);
}

#include "nic.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>


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
	if (cfg->n_vfs < 1 || cfg->n_vfs > NIC_MAX_VFS || !cfg->sw)
		return -EINVAL;
	memset(nic, 0, sizeof(*nic));
	nic->n_vfs = cfg->n_vfs;
	nic->sw = cfg->sw;
	nic->timer_fd = -1;
	nic->ctl_listen_fd = -1;
	nic->ctl_refused_log = (struct ratelimit)RATELIMIT_INIT(5);
	nic->clock = monotonic_clock;
	for (unsigned i = 0; i < cfg->n_vfs; i++) {
		struct nic_vf_slot *s = &nic->slot[i];
		for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
			s->irq_fd[v] = -1;
		s->listen_fd = -1;
		s->refused_log = (struct ratelimit)RATELIMIT_INIT(5);
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
		if (s->conn && nic->transport)
			nic->transport->disconnect(nic, s);
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
	uint64_t now = nic_now_ns(nic);
	/* 1. The switch's own timers (a paused uplink), then what is due in
	 * the VFs: throttled interrupts, and stalled transmit once the
	 * switch can take frames again. */
	uint64_t next = nic->sw->service(nic, now);

	for (unsigned i = 0; i < nic->n_vfs; i++) {
		struct nic_vf *vf = &nic->slot[i].vf;
		if (nic_vf_next_deadline(vf) <= now || (vf->tx_stalled && nic->sw->tx_ready(nic, now)))
			nic_vf_poll_timers(vf);
	}
	/* 2. When to come back. */
	for (unsigned i = 0; i < nic->n_vfs; i++) {
		struct nic_vf *vf = &nic->slot[i].vf;
		uint64_t due = vf->tx_stalled ? nic->sw->tx_retry_at(nic, now) : nic_vf_next_deadline(vf);
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

/* virtio-net's migratable state, version 2: fixed-size little-endian
 * fields, 116 bytes, never a copy of a host struct.
 *
 *    0 +--------------------------------------------+
 *      | transport registers (mmio.h)      36 bytes |
 *   36 +--------------------------------------------+
 *      | queue 0 (receive)                 36 bytes |
 *   72 +--------------------------------------------+
 *      | queue 1 (transmit)                36 bytes |
 *  108 +--------------------------------------------+
 *      | u16 link status | u8 mac[6]        8 bytes |
 *  116 +--------------------------------------------+
 *
 * The transport writes and checks its part (virtio_mmio_save / _check);
 * this file adds the device's configuration. A load checks everything
 * before it touches the device: a refused state leaves it as it was, still
 * running or still waiting for a good state. */
#include "net_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../device.h"
#include "../../common/mac.h"
#include "../migration/stream.h"

#define NET_CFG_OFF (VIRTIO_MMIO_STATE_HDR + 2 * VIRTIO_MMIO_STATE_QUEUE)
_Static_assert(NET_CFG_OFF + 8 == VIRTIO_NET_STATE_LEN, "the layout above");

int virtio_net_save_state(struct virtio_net *n, uint8_t *buf, size_t cap, size_t *len)
{
	if (cap < VIRTIO_NET_STATE_LEN)
		return -ENOSPC;
	pthread_mutex_lock(&n->mmio.lock);
	virtio_mmio_save(&n->mmio, buf);
	mig_put16(buf + NET_CFG_OFF, n->cfg.status);
	memcpy(buf + NET_CFG_OFF + 2, n->cfg.mac, 6);
	pthread_mutex_unlock(&n->mmio.lock);
	*len = VIRTIO_NET_STATE_LEN;
	return 0;
}

int virtio_net_load_state(struct virtio_net *n, uint32_t version, const uint8_t *buf, size_t len, char *err,
			  size_t errlen)
{
	struct virtio_mmio_loaded t;
	char why[200];
	uint8_t mac[6];
	int ret = device_check_version(virtio_net_mig_ops_of(n), version, len, VIRTIO_NET_STATE_LEN, err,
					 errlen);

	if (ret < 0)
		return ret;
	/* Everything is checked before anything changes. */
	ret = virtio_mmio_check(&n->mmio, buf, &t, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "virtio-net%u state is inconsistent: %s", n->instance, why);
		return ret;
	}
	uint16_t link = mig_get16(buf + NET_CFG_OFF);
	memcpy(mac, buf + NET_CFG_OFF + 2, 6);
	if (link & ~VIRTIO_NET_S_LINK_UP) {
		snprintf(err, errlen, "virtio-net%u state is inconsistent: link status 0x%x", n->instance, link);
		return -EINVAL;
	}
	if (!mac_is_unicast(mac)) {
		snprintf(err, errlen, "virtio-net%u state is inconsistent: MAC %s is not unicast", n->instance,
			 mac_format(mac, why));
		return -EINVAL;
	}

	pthread_mutex_lock(&n->mmio.lock);
	/* Quiet until activation (virtio_net_resume): the last pages of guest
	 * RAM arrive after the device state and must not race with frames
	 * written here. Set under the same lock hold as the state, so no
	 * processing pass sees the new queues before it. */
	n->quiesced = true;
	virtio_mmio_apply(&n->mmio, &t);
	n->cfg.status = link;
	memcpy(n->cfg.mac, mac, 6);
	pthread_mutex_unlock(&n->mmio.lock);
	net_backend_wake(n);
	return 0;
}

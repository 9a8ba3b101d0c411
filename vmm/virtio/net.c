/* virtio-net device: identity, configuration space, life cycle, and the
 * pause and migration hooks. The registers are the transport's (mmio.c),
 * the TAP and queue processing the back-end's (net_tap.c), the state
 * layout net_state.c's. See net.h. */
#include "net_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../common/mac.h"
#include "../device.h"
#include "../vm.h"

static const uint64_t offered_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |
					 (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_RING_F_EVENT_IDX);

static void net_config_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = dev;

	if (off < sizeof(n->cfg))
		memcpy(data, (uint8_t *)&n->cfg + off, len < sizeof(n->cfg) - off ? len : sizeof(n->cfg) - off);
}

static void net_notify(void *dev)
{
	net_backend_wake(dev);
}

static const struct virtio_mmio_ops net_mmio_ops = {
	.config_read = net_config_read,
	.notify = net_notify,
};

struct virtio_net *virtio_net_model_create(const struct virtio_net_opts *o, unsigned instance,
					   const struct vq_mem *mem)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->instance = instance;
	n->tap_fd = n->ctl_fd = n->epfd = -1;
	virtio_mmio_init(&n->mmio, &(struct virtio_mmio_params){
		.name = "virtio-net", .instance = instance, .device_id = VIRTIO_ID_NET,
		.features = offered_features, .queue_max = VIRTIO_NET_QUEUE_SIZE, .n_queues = 2,
		.mem = *mem, .ops = &net_mmio_ops, .dev = n,
	});
	if (o->has_mac) {
		memcpy(n->cfg.mac, o->mac, 6);
	} else {
		static const uint8_t base_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
		memcpy(n->cfg.mac, base_mac, 6);
		n->cfg.mac[5] = (uint8_t)(base_mac[5] + instance);
	}
	n->cfg.status = VIRTIO_NET_S_LINK_UP;
	n->cfg.max_virtqueue_pairs = 1;
	n->cfg.mtu = 1500;
	return n;
}

/* ---- pause and migration ------------------------------------------------ */

/* The back-end processes under the lock, so once we hold it no pass is in
 * flight, and later passes see `quiesced`. */
void virtio_net_pause(void *opaque)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->mmio.lock);
	n->quiesced = true;
	pthread_mutex_unlock(&n->mmio.lock);
}

void virtio_net_resume(void *opaque)
{
	struct virtio_net *n = opaque;

	pthread_mutex_lock(&n->mmio.lock);
	n->quiesced = false;
	pthread_mutex_unlock(&n->mmio.lock);
	net_backend_wake(n);
}

static int net_mig_save(void *opaque, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return virtio_net_save_state(opaque, buf, cap, len);
}

static int net_mig_load(void *opaque, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	return virtio_net_load_state(opaque, version, buf, len, err, errlen);
}

const struct device_ops *virtio_net_mig_ops_of(const struct virtio_net *n)
{
	(void)n;
	return &virtio_net_device_ops;
}

/* ---- life cycle ---------------------------------------------------------- */

static void mark_dirty_cb(void *opaque, uint64_t gpa, uint64_t len)
{
	vm_mark_dirty(opaque, gpa, len);
}

struct virtio_net *virtio_net_create(struct vm *vm, const struct virtio_net_opts *o, unsigned instance)
{
	const struct vq_mem mem = { .base = vm->ram, .size = vm->ram_size, .mark_dirty = mark_dirty_cb,
				    .opaque = vm };
	struct virtio_net *n;

	if (instance >= VIRTIO_NET_MAX_DEVICES) {
		log_error("virtio-net: at most %d devices", VIRTIO_NET_MAX_DEVICES);
		return NULL;
	}
	n = virtio_net_model_create(o, instance, &mem);
	if (!n)
		return NULL;
	n->vm = vm;
	if (net_tap_open(n, o->tap) < 0 || virtio_mmio_attach(&n->mmio, vm) < 0 || net_backend_start(n) < 0)
		goto fail;
	char mac_text[MAC_STR_LEN];
	log_info("virtio-net%u: TAP %s, MAC %s, MMIO 0x%" PRIx64 ", vector 0x%x", instance, n->tap_name,
		 mac_format(n->cfg.mac, mac_text), n->mmio.base, n->mmio.irq_vector);
	return n;
fail:
	virtio_net_destroy(n);
	return NULL;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	bool ran = n->thread_started;
	/* Thread first: it uses the queues and fds the transport releases. */
	net_backend_stop(n);
	if (n->mmio.on_bus) {
		/* No vCPU reaches the registers after this. */
		bus_unregister(&n->vm->bus, n->mmio.base);
		n->mmio.on_bus = false;
	}
	if (ran)
		log_info("virtio-net%u: rx %" PRIu64 " packets %" PRIu64 " bytes (%" PRIu64 " times out of buffers),"
			 " tx %" PRIu64 " packets %" PRIu64 " bytes %" PRIu64 " errors, %" PRIu64 " kicks, %" PRIu64
			 " interrupts", n->instance, n->st.rx_packets, n->st.rx_bytes, n->st.rx_no_buffer,
			 n->st.tx_packets, n->st.tx_bytes, n->st.tx_errors, n->st.kicks, n->mmio.interrupts);
	virtio_mmio_fini(&n->mmio);
	free(n);
}

static void *net_device_create(struct vm *vm, const void *config, unsigned instance, struct csc_boot_dev *boot,
			       char *err, size_t errlen)
{
	struct virtio_net *n = virtio_net_create(vm, config, instance);

	if (!n) {
		snprintf(err, errlen, "virtio-net%u: cannot create the device (see above)", instance);
		return NULL;
	}
	*boot = (struct csc_boot_dev){
		.type = CSC_DEV_VIRTIO_NET, .instance = instance, .mmio_base = n->mmio.base,
		.mmio_len = VIRTIO_MMIO_LEN, .irq_vector = n->mmio.irq_vector, .irq_count = 1,
	};
	return n;
}

static void net_device_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

/* One entry per instance in the registry ("virtio-net0", ...): the
 * destination matches them by name. The back-end stops with the VM's pause
 * and starts again at resume or, on a destination, at activation. */
const struct device_ops virtio_net_device_ops = {
	.name = "virtio-net",
	.numbered = true,
	.version = VIRTIO_NET_STATE_VERSION,
	.min_load_version = VIRTIO_NET_STATE_VERSION,
	.create = net_device_create,
	.destroy = net_device_destroy,
	.pause = virtio_net_pause,
	.resume = virtio_net_resume,
	.save = net_mig_save,
	.load = net_mig_load,
	.activate = virtio_net_resume,
};

uint64_t virtio_net_mmio_base(const struct virtio_net *n)
{
	return n->mmio.base;
}

uint64_t virtio_net_mmio_len(const struct virtio_net *n)
{
	(void)n;
	return VIRTIO_MMIO_LEN;
}

uint32_t virtio_net_irq_vector(const struct virtio_net *n)
{
	return n->mmio.irq_vector;
}

void virtio_net_get_stats(struct virtio_net *n, struct virtio_net_stats *st)
{
	pthread_mutex_lock(&n->mmio.lock);
	*st = n->st;
	st->interrupts = n->mmio.interrupts;
	pthread_mutex_unlock(&n->mmio.lock);
}

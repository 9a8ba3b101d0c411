#include "vf_device.h"

#include "compsc_vf.h"
#include "device.h"

#include <errno.h>
#include <stdatomic.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/layout.h"
#include "../common/log.h"
#include "../common/vf82576.h"
#include "../common/vfio_user.h"
#include "vm.h"

static void vf_mmio(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vf_device *d = dev;
	struct {
		struct vfu_region_access a;
		uint8_t data[8];
	} __attribute__((packed)) msg = { .a = { .offset = offset, .region = VFIO_PCI_BAR0_REGION_INDEX, .count = len } };

	if ((len != 4 && len != 8) || (offset & 3) || !atomic_load_explicit(&d->present, memory_order_acquire)) {
		/* The VF decodes aligned 32-bit accesses (64-bit as two); an
		 * empty slot reads as all ones, as a PCIe slot without a card. */
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		/* Posted, like a PCIe memory write: the vCPU goes on at once. */
		memcpy(msg.data, data, len);
		d->writes++;
		vfu_client_post(&d->client, VFU_REGION_WRITE, &msg, sizeof(msg.a) + len);
		return;
	}
	d->reads++;
	size_t got = 0;
	if (vfu_client_request(&d->client, VFU_REGION_READ, &msg.a, sizeof(msg.a), NULL, 0, &msg, sizeof(msg), &got) < 0 ||
	    got < sizeof(msg.a) + len) {
		memset(data, 0xff, len);	/* a device that is gone reads as all ones */
		return;
	}
	memcpy(data, msg.data, len);
}

static int query(struct vf_device *d, uint16_t cmd, void *inout, size_t len, char *err, size_t err_len,
		 const char *what)
{
	size_t got = 0;
	int ret = vfu_client_request(&d->client, cmd, inout, len, NULL, 0, inout, len, &got);

	if (ret == 0 && got < len)
		ret = -EPROTO;
	if (ret < 0)
		snprintf(err, err_len, "%s: %s failed: %s", d->client.path, what, strerror(-ret));
	return ret;
}

/* Steps 1-3 of an attachment: connects d->client to the VF at path,
 * negotiates, learns its BAR0 size and vector count, resets it. */
static int vf_connect(struct vf_device *d, const char *path, uint64_t *bar_size, uint32_t *n_vectors, char *err,
		      size_t err_len)
{
	int ret;

	if (vfu_client_connect(&d->client, path, err, err_len) < 0)
		return -EIO;

	/* 1. Version. A VF that is in use closes a second connection at
	 * once (docs/vfio-user.md): that is where a busy VF shows. */
	struct {
		struct vfu_version v;
		char caps[64];
	} __attribute__((packed)) ver = { { VFU_VERSION_MAJOR, VFU_VERSION_MINOR }, "{}" };
	size_t got = 0;
	ret = vfu_client_request(&d->client, VFU_VERSION, &ver, sizeof(ver.v) + 3, NULL, 0, &ver, sizeof(ver), &got);
	if (ret < 0 || got < sizeof(ver.v) || ver.v.major != VFU_VERSION_MAJOR) {
		snprintf(err, err_len, "%s: vfio-user version negotiation failed%s%s", path, ret < 0 ? ": " : "",
			 ret == -EPIPE || ret == -ECONNRESET ? "the NIC closed the connection (the VF is in use by "
							       "another VMM?)"
			 : ret < 0 ? strerror(-ret) : "");
		ret = ret < 0 ? ret : -EPROTO;
		goto fail;
	}

	/* 2. What the device is. */
	struct vfu_device_info info = { .argsz = sizeof(info) };
	if ((ret = query(d, VFU_DEVICE_GET_INFO, &info, sizeof(info), err, err_len, "DEVICE_GET_INFO")) < 0)
		goto fail;
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= VFIO_PCI_BAR0_REGION_INDEX ||
	    info.num_irqs <= VFIO_PCI_MSIX_IRQ_INDEX) {
		snprintf(err, err_len, "%s: not a PCI device with BAR0 and MSI-X", path);
		ret = -ENODEV;
		goto fail;
	}
	struct vfu_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if ((ret = query(d, VFU_DEVICE_GET_REGION_INFO, &bar, sizeof(bar), err, err_len, "GET_REGION_INFO")) < 0)
		goto fail;
	if (bar.size == 0 || bar.size > CSC_MMIO_WINDOW || (bar.size & (bar.size - 1))) {
		snprintf(err, err_len, "%s: BAR0 size %llu is not a power of two up to %llu", path,
			 (unsigned long long)bar.size, (unsigned long long)CSC_MMIO_WINDOW);
		ret = -ENODEV;
		goto fail;
	}
	struct vfu_irq_info irqs = { .argsz = sizeof(irqs), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	if ((ret = query(d, VFU_DEVICE_GET_IRQ_INFO, &irqs, sizeof(irqs), err, err_len, "GET_IRQ_INFO")) < 0)
		goto fail;
	if (irqs.count == 0 || irqs.count > VF_DEVICE_MAX_VECTORS) {
		snprintf(err, err_len, "%s: %u MSI-X vectors (1..%d supported)", path, irqs.count, VF_DEVICE_MAX_VECTORS);
		ret = -ENODEV;
		goto fail;
	}

	/* 3. Reset to a known state before the guest sees it. */
	ret = vfu_client_request(&d->client, VFU_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL);
	if (ret < 0) {
		snprintf(err, err_len, "%s: DEVICE_RESET failed: %s", path, strerror(-ret));
		goto fail;
	}
	*bar_size = bar.size;
	*n_vectors = irqs.count;
	return 0;
fail:
	vfu_client_close(&d->client);
	return ret;
}

/* Steps 4-5 on a connected client: all of guest RAM for DMA, and the
 * slot's eventfds (already routed) as the VF's MSI-X triggers. */
static int vf_wire(struct vf_device *d, const char *path, char *err, size_t err_len)
{
	struct vfu_dma_map map = {
		.argsz = sizeof(map), .flags = VFU_DMA_FLAG_READ | VFU_DMA_FLAG_WRITE,
		.offset = 0, .addr = 0, .size = d->vm->ram_size,
	};
	int ret = vfu_client_request(&d->client, VFU_DMA_MAP, &map, sizeof(map), &d->vm->ram_fd, 1, NULL, 0, NULL);
	if (ret < 0) {
		snprintf(err, err_len, "%s: DMA_MAP of guest RAM failed: %s", path, strerror(-ret));
		return ret;
	}
	struct vfu_irq_set set = {
		.argsz = sizeof(set), .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = d->n_vectors,
	};
	ret = vfu_client_request(&d->client, VFU_DEVICE_SET_IRQS, &set, sizeof(set), d->efd, d->n_vectors, NULL, 0, NULL);
	if (ret < 0)
		snprintf(err, err_len, "%s: SET_IRQS failed: %s", path, strerror(-ret));
	return ret;
}

/* Where CompSC finds the PF (RUNDIR/vfN.sock: RUNDIR/pf.sock). */
static void vf_set_path(struct vf_device *d, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash ? (size_t)(slash - path + 1) : 0;

	snprintf(d->path, sizeof(d->path), "%s", path);
	d->vf_index = -1;
	if (sscanf(path + dir, "vf%d.sock", &d->vf_index) != 1 || dir + 8 > sizeof(d->pf_path))
		log_warn("vf%u: %s is not RUNDIR/vfN.sock: CompSC cannot reach the PF", d->instance, path);
	snprintf(d->pf_path, sizeof(d->pf_path), "%.*spf.sock", (int)dir, path);
}

static struct vf_device *slot_create(struct vm *vm, const char *path, bool plugged, unsigned instance,
				     uint64_t mmio_base, struct csc_boot_dev *boot, char *err, size_t err_len)
{
	struct vf_device *d = calloc(1, sizeof(*d));
	int ret;

	if (!d) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	d->vm = vm;
	d->mmio_base = mmio_base;
	d->instance = instance;
	d->client.fd = -1;
	d->stop_fd = -1;
	for (unsigned i = 0; i < VF_DEVICE_MAX_VECTORS; i++)
		d->efd[i] = -1;
	/* The slot's shape (BAR size, vectors) is what the guest's device
	 * table lists, for good: a present device gives it; an empty slot
	 * takes the 82576 VF's, which every device plugged later must have. */
	d->bar_size = VF_BAR0_SIZE;
	d->n_vectors = VF_NUM_VECTORS;
	if (plugged && vf_connect(d, path, &d->bar_size, &d->n_vectors, err, err_len) < 0) {
		free(d);
		return NULL;
	}

	/* 5. Interrupts: eventfd -> irqfd -> MSI route, one per vector. */
	d->vector_base = irq_alloc_vectors(&vm->irq, d->n_vectors);
	if (!d->vector_base) {
		snprintf(err, err_len, "%s: no free guest interrupt vectors", path);
		goto fail;
	}
	for (unsigned i = 0; i < d->n_vectors; i++) {
		d->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->gsi[i] = irq_add_msi_route(&vm->irq, d->vector_base + i, 0);
		if (d->efd[i] < 0 || d->gsi[i] < 0 || irq_attach_eventfd(&vm->irq, d->gsi[i], d->efd[i]) < 0) {
			snprintf(err, err_len, "%s: cannot route MSI-X vector %u", path, i);
			goto fail;
		}
	}
	if (plugged && vf_wire(d, path, err, err_len) < 0)
		goto fail;

	/* 6. BAR0 on the bus (an empty slot's too: it reads all ones). */
	ret = bus_register(&vm->bus, mmio_base, d->bar_size, "vf", d, vf_mmio);
	if (ret < 0) {
		snprintf(err, err_len, "%s: cannot place BAR0 at 0x%llx: %s", path, (unsigned long long)mmio_base,
			 strerror(-ret));
		goto fail;
	}
	atomic_store(&d->present, plugged);
	*boot = (struct csc_boot_dev){
		.type = CSC_DEV_VF_82576, .instance = instance, .mmio_base = mmio_base, .mmio_len = d->bar_size,
		.irq_vector = d->vector_base, .irq_count = d->n_vectors,
	};
	log_info("vf%u: %s %s: BAR0 at 0x%llx, vectors 0x%x..0x%x", instance, path,
		 plugged ? "attached" : "reserved (unplugged)", (unsigned long long)mmio_base, d->vector_base,
		 d->vector_base + d->n_vectors - 1);
	return d;
fail:
	for (unsigned i = 0; i < VF_DEVICE_MAX_VECTORS; i++)
		if (d->efd[i] >= 0)
			close(d->efd[i]);
	if (plugged)
		vfu_client_close(&d->client);
	free(d);
	return NULL;
}

struct vf_device *vf_device_attach(struct vm *vm, const char *path, unsigned instance, uint64_t mmio_base,
				   struct csc_boot_dev *boot, char *err, size_t err_len)
{
	return slot_create(vm, path, true, instance, mmio_base, boot, err, err_len);
}

int vf_device_plug(struct vf_device *d, const char *path, char *err, size_t err_len)
{
	uint64_t bar_size;
	uint32_t n_vectors;
	int ret;

	if (atomic_load(&d->present)) {
		snprintf(err, err_len, "vf%u is attached already (%s)", d->instance, d->path);
		return -EBUSY;
	}
	/* The slot is empty, so no vCPU touches d->client (vf_mmio checks
	 * present first): it can be set up while the guest runs. */
	if ((ret = vf_connect(d, path, &bar_size, &n_vectors, err, err_len)) < 0)
		return ret;
	if (bar_size != d->bar_size || n_vectors != d->n_vectors) {
		snprintf(err, err_len, "%s: BAR0 of %llu bytes and %u vectors, slot vf%u has %llu and %u", path,
			 (unsigned long long)bar_size, n_vectors, d->instance, (unsigned long long)d->bar_size,
			 d->n_vectors);
		vfu_client_close(&d->client);
		return -ENODEV;
	}
	if ((ret = vf_wire(d, path, err, err_len)) < 0) {
		vfu_client_close(&d->client);
		return ret;
	}
	vf_set_path(d, path);
	compsc_vf_attached(d);
	atomic_store_explicit(&d->present, true, memory_order_release);
	log_info("vf%u: %s plugged", d->instance, path);
	return 0;
}

void vf_device_unplug(struct vf_device *d)
{
	if (!atomic_load(&d->present))
		return;
	/* From now on vf_mmio answers without the client; the pause waits
	 * for any vCPU still inside it (a parked vCPU has completed its
	 * access), so the close below never races a request. */
	atomic_store_explicit(&d->present, false, memory_order_release);
	bool paused = vm_pause(d->vm) == 0;
	vfu_client_close(&d->client);
	if (paused)
		vm_resume(d->vm);
	/* The NIC resets the VF and drops the DMA mapping when the
	 * connection closes: another VMM may take it now. */
	log_info("vf%u: %s unplugged", d->instance, d->path);
}

void vf_device_detach(struct vf_device *d)
{
	if (!d)
		return;
	bus_unregister(&d->vm->bus, d->mmio_base);
	for (unsigned i = 0; i < d->n_vectors; i++) {
		irq_detach_eventfd(&d->vm->irq, d->gsi[i], d->efd[i]);
		close(d->efd[i]);
	}
	if (atomic_load(&d->present))
		vfu_client_close(&d->client);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	free(d->held_blob);
	free(d->late_blob);
	free(d);
}

static void *vf_device_create(struct vm *vm, const void *config, unsigned instance, struct csc_boot_dev *boot,
			      char *err, size_t errlen)
{
	const struct vf_slot_config *cfg = config;

	if (vm->n_vfs == VM_MAX_VFS) {
		snprintf(err, errlen, "at most %d VFs", VM_MAX_VFS);
		return NULL;
	}
	struct vf_device *d = slot_create(vm, cfg->path, !cfg->unplugged, instance, vm_alloc_mmio_window(vm), boot,
					  err, errlen);
	if (!d)
		return NULL;
	vf_set_path(d, cfg->path);
	if (!cfg->unplugged)
		compsc_vf_attached(d);
	vm->vfs[vm->n_vfs++] = d;
	return d;
}

struct vf_device *vm_find_vf(struct vm *vm, unsigned instance)
{
	for (unsigned i = 0; i < vm->n_vfs; i++)
		if (vm->vfs[i]->instance == instance)
			return vm->vfs[i];
	return NULL;
}

static void vf_device_destroy(void *dev)
{
	struct vf_device *d = dev;

	for (unsigned i = 0; i < d->vm->n_vfs; i++)
		if (d->vm->vfs[i] == d)
			d->vm->vfs[i] = d->vm->vfs[--d->vm->n_vfs];
	vf_device_detach(d);
}

/* The VF's own state lives in the NIC and cannot be read out: what
 * migrates is CompSC's (compsc_vf.c) - the shared area's handshake, the
 * MAC and the frames held during the downtime. */
const struct device_ops vf_device_ops = {
	.name = "vf",
	.numbered = true,
	.version = COMPSC_VF_STATE_VERSION,
	.min_load_version = COMPSC_VF_STATE_VERSION,
	.create = vf_device_create,
	.destroy = vf_device_destroy,
	.save = compsc_vf_save,
	.load = compsc_vf_load,
	.activate = compsc_vf_activate,
	.running = compsc_vf_running,
	.migrate_begin = compsc_vf_migrate_begin,
	.migrate_quiesce = compsc_vf_migrate_quiesce,
	.migrate_abort = compsc_vf_migrate_abort,
	.late_save = compsc_vf_late_save,
	.late_load = compsc_vf_late_load,
	.migrate_carried = compsc_vf_migrate_carried,
};

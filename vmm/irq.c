#include "irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/layout.h"

void irq_router_init(struct irq_router *r, int vm_fd)
{
	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	r->next_gsi = IRQ_FIRST_GSI;
	r->next_vector = CSC_VEC_DEVICE_BASE;
	pthread_mutex_init(&r->lock, NULL);
}

uint32_t irq_alloc_vectors(struct irq_router *r, uint32_t count)
{
	uint32_t v = 0;

	pthread_mutex_lock(&r->lock);
	if (count && r->next_vector + count - 1 <= CSC_VEC_DEVICE_END) {
		v = r->next_vector;
		r->next_vector += count;
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

/* Caller holds r->lock. */
static int commit_routes(struct irq_router *r)
{
	size_t size = sizeof(struct kvm_irq_routing) + r->n_routes * sizeof(r->routes[0]);
	struct kvm_irq_routing *table = calloc(1, size);
	int ret = 0;

	if (!table)
		return -ENOMEM;
	table->nr = r->n_routes;
	memcpy(table->entries, r->routes, r->n_routes * sizeof(r->routes[0]));
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, table) < 0)
		ret = -errno;
	free(table);
	return ret;
}

int irq_add_msi_route(struct irq_router *r, uint32_t vector, uint32_t dest_apic_id)
{
	int ret;

	if (vector < 32 || vector > 255 || dest_apic_id > 255)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	if (r->n_routes == IRQ_MAX_ROUTES) {
		pthread_mutex_unlock(&r->lock);
		return -ENOSPC;
	}
	struct kvm_irq_routing_entry *e = &r->routes[r->n_routes];
	memset(e, 0, sizeof(*e));
	e->gsi = r->next_gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	/* x86 MSI: address 0xFEExx000 with the destination APIC ID in bits
	 * 19:12 (physical mode); data = vector, fixed delivery, edge. */
	e->u.msi.address_lo = (uint32_t)CSC_LAPIC_GPA | (dest_apic_id << 12);
	e->u.msi.address_hi = 0;
	e->u.msi.data = vector;
	r->n_routes++;
	ret = commit_routes(r);
	if (ret < 0)
		r->n_routes--;
	else
		ret = (int)r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_attach_eventfd(struct irq_router *r, int gsi, int efd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = (uint32_t)gsi };

	return ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int irq_detach_eventfd(struct irq_router *r, int gsi, int efd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = (uint32_t)gsi,
				   .flags = KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(r->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int irq_raise(int efd)
{
	uint64_t one = 1;

	return write(efd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

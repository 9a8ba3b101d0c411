/* Interrupt routing: MSI routes in KVM's GSI table and irqfds.
 *
 * A device that wants to interrupt the guest gets an MSI route (vector,
 * destination APIC) and an eventfd bound to it with KVM_IRQFD; raising the
 * interrupt is then a write to the eventfd from any thread or process (the
 * NIC process raises VF interrupts this way without involving the VMM).
 * KVM_SET_GSI_ROUTING replaces the whole table, so the router keeps it. */
#ifndef CSC_VMM_IRQ_H
#define CSC_VMM_IRQ_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#define IRQ_MAX_ROUTES 64
#define IRQ_FIRST_GSI 24	/* below are the IOAPIC pins */

struct irq_router {
	int vm_fd;
	pthread_mutex_t lock;
	unsigned n_routes;
	uint32_t next_gsi;
	struct kvm_irq_routing_entry routes[IRQ_MAX_ROUTES];
	uint32_t next_vector;	/* device vector allocator */
};

void irq_router_init(struct irq_router *r, int vm_fd);
/* Takes `count` consecutive guest vectors for a device; 0 when exhausted. */
uint32_t irq_alloc_vectors(struct irq_router *r, uint32_t count);
/* Adds an MSI route delivering `vector` to `dest_apic_id`; returns the GSI
 * (>= IRQ_FIRST_GSI) or -errno. */
int irq_add_msi_route(struct irq_router *r, uint32_t vector, uint32_t dest_apic_id);
/* Binds / unbinds an eventfd to a GSI (KVM_IRQFD). */
int irq_attach_eventfd(struct irq_router *r, int gsi, int efd);
int irq_detach_eventfd(struct irq_router *r, int gsi, int efd);
/* Raises the interrupt behind an eventfd (what a device does). */
int irq_raise(int efd);

#endif

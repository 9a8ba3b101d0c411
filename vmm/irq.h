/* Interrupt routing: MSI routes (GSI -> guest vector) and eventfds.
 *
 * A device that wants to interrupt the guest gets an MSI route (vector,
 * destination APIC) and an eventfd bound to it; raising the interrupt is
 * then a write to the eventfd from any thread or process (the NIC process
 * raises VF interrupts this way without involving the VMM). The router
 * keeps the route table; the accelerator delivers (KVM: GSI routing and
 * irqfds; proc: a delivery thread writing the guest's vector counters). */
#ifndef CSC_VMM_IRQ_H
#define CSC_VMM_IRQ_H

#include <pthread.h>
#include <stdint.h>

#include "accel/accel.h"

#define IRQ_MAX_ROUTES 64
#define IRQ_FIRST_GSI 24	/* below are the IOAPIC pins */

struct vm;

struct irq_router {
	struct vm *vm;
	pthread_mutex_t lock;
	unsigned n_routes;
	uint32_t next_gsi;
	struct irq_route routes[IRQ_MAX_ROUTES];
	uint32_t next_vector;	/* device vector allocator */
};

void irq_router_init(struct irq_router *r, struct vm *vm);
/* Takes `count` consecutive guest vectors for a device; 0 when exhausted. */
uint32_t irq_alloc_vectors(struct irq_router *r, uint32_t count);
/* Adds an MSI route delivering `vector` to `dest_apic_id`; returns the GSI
 * (>= IRQ_FIRST_GSI) or -errno. */
int irq_add_msi_route(struct irq_router *r, uint32_t vector, uint32_t dest_apic_id);
/* Binds / unbinds an eventfd to a GSI. */
int irq_attach_eventfd(struct irq_router *r, int gsi, int efd);
int irq_detach_eventfd(struct irq_router *r, int gsi, int efd);
/* Raises the interrupt behind an eventfd (what a device does). */
int irq_raise(int efd);

#endif

#include "irq.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../common/layout.h"
#include "vm.h"

void irq_router_init(struct irq_router *r, struct vm *vm)
{
	memset(r, 0, sizeof(*r));
	r->vm = vm;
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
	r->routes[r->n_routes] = (struct irq_route){
		.gsi = r->next_gsi, .vector = vector, .dest_apic_id = dest_apic_id,
	};
	r->n_routes++;
	/* The accelerator takes the whole table (KVM_SET_GSI_ROUTING replaces
	 * it): a refused table leaves the previous one in force. */
	ret = r->vm->accel->irq_set_routes(r->vm, r->routes, r->n_routes);
	if (ret < 0)
		r->n_routes--;
	else
		ret = (int)r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Caller holds r->lock. */
static const struct irq_route *find_route(struct irq_router *r, int gsi)
{
	for (unsigned i = 0; i < r->n_routes; i++)
		if ((int)r->routes[i].gsi == gsi)
			return &r->routes[i];
	return NULL;
}

int irq_attach_eventfd(struct irq_router *r, int gsi, int efd)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	const struct irq_route *route = find_route(r, gsi);
	if (route)
		ret = r->vm->accel->irq_attach(r->vm, route, efd);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_detach_eventfd(struct irq_router *r, int gsi, int efd)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&r->lock);
	const struct irq_route *route = find_route(r, gsi);
	if (route)
		ret = r->vm->accel->irq_detach(r->vm, route, efd);
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int irq_raise(int efd)
{
	uint64_t one = 1;

	return write(efd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

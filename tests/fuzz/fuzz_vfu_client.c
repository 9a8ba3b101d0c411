/* Fuzz target vfu_client: the VMM's handling of vfio-user replies from
 * an untrusted device process (vmm/vfio_user_client.c, and the checks
 * vmm/vf_device.c makes on what the replies say: version, device, BAR and
 * interrupt info, register reads).
 *
 * The device's side is the fuzzer's: its whole byte stream is written
 * into the client's socket before the VMM asks anything, then closed, so
 * every read ends in data or end-of-stream, never a wait. To get there
 * without a listening socket, this file includes vfio_user_client.c with
 * vfu_client_connect renamed and supplies a vfu_client_connect that hands
 * out one end of a socketpair. KVM interrupt routing is faked (irq_*
 * below), so vf_device_attach can succeed and its MMIO path run.
 *
 * Input:
 *   u8 mode    bit 0 clear: a sequence of vfu_client_request calls
 *              bit 0 set:   vf_device_attach, then MMIO accesses to BAR0
 *   u8 n       requests (n % 8 + 1), or MMIO accesses (n % 16)
 *   per request: u8 command, u8 reply capacity (index)
 *   per access:  u16 offset, u8 flags (bit 0 write, bits 1-2 width), u32 value
 *   the rest:  what the device sends */
#define vfu_client_connect vfu_client_connect_real
#include "../../vmm/vfio_user_client.c"
#undef vfu_client_connect

#include <dirent.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "../../common/layout.h"
#include "../../vmm/vf_device.h"
#include "../../vmm/vm.h"
#include "fuzz_input.h"

static const uint8_t *device_bytes;
static size_t device_len;
static int device_end = -1;	/* the device's end of the socketpair */

int vfu_client_connect(struct vfu_client *c, const char *path, char *err, size_t err_len);
int vfu_client_connect(struct vfu_client *c, const char *path, char *err, size_t err_len)
{
	int sv[2], big = 4 << 20;
	struct timeval tv = { .tv_sec = 1 };

	(void)err, (void)err_len;
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (size_t off = 0; off < device_len;) {
		ssize_t n = send(sv[1], device_bytes + off, device_len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	c->fd = sv[0];
	device_end = sv[1];
	return 0;
}

/* KVM's side of interrupt routing, faked: vectors and GSIs are handed
 * out, eventfds "bound". */
void irq_router_init(struct irq_router *r, struct vm *vm)
{
	memset(r, 0, sizeof(*r));
	r->vm = vm;
	r->next_gsi = 24;
	r->next_vector = CSC_VEC_DEVICE_BASE;
	pthread_mutex_init(&r->lock, NULL);
}
uint32_t irq_alloc_vectors(struct irq_router *r, uint32_t count)
{
	uint32_t v = 0;
	if (count && r->next_vector + count - 1 <= CSC_VEC_DEVICE_END) {
		v = r->next_vector;
		r->next_vector += count;
	}
	return v;
}
int irq_add_msi_route(struct irq_router *r, uint32_t vector, uint32_t dest)
{
	FUZZ_CHECK(vector >= 32 && vector <= 255 && dest <= 255);
	return (int)r->next_gsi++;
}
int irq_attach_eventfd(struct irq_router *r, int gsi, int efd)
{
	(void)r, (void)gsi;
	return efd >= 0 ? 0 : -EBADF;
}
int irq_detach_eventfd(struct irq_router *r, int gsi, int efd)
{
	(void)r, (void)gsi, (void)efd;
	return 0;
}
int irq_raise(int efd)
{
	(void)efd;
	return 0;
}

static struct vm vm;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_DEBUG);
	vm.ram_size = 1u << 20;
	vm.ram_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (vm.ram_fd < 0 || ftruncate(vm.ram_fd, (off_t)vm.ram_size) < 0)
		abort();
	bus_init(&vm.bus);
	return 0;
}

static void requests(struct fuzz_in *in, unsigned n)
{
	static const uint16_t commands[] = {
		VFU_VERSION, VFU_DEVICE_GET_INFO, VFU_DEVICE_GET_REGION_INFO, VFU_DEVICE_GET_IRQ_INFO,
		VFU_DEVICE_RESET, VFU_DMA_MAP, VFU_DEVICE_SET_IRQS, VFU_REGION_READ,
	};
	static const size_t caps[] = { 0, 4, 16, 24, 32, 300 };
	struct { uint8_t cmd, cap; } plan[8];
	struct vfu_client c;
	uint8_t payload[64] = { 0 }, reply[300 + 16];

	for (unsigned i = 0; i < n; i++) {
		plan[i].cmd = fuzz_u8(in);
		plan[i].cap = fuzz_u8(in);
	}
	device_bytes = in->p + in->pos;
	device_len = fuzz_left(in);
	vfu_client_connect(&c, "fuzz", NULL, 0);
	for (unsigned i = 0; i < n; i++) {
		size_t cap = caps[plan[i].cap % 6], got = 12345;
		bool was_dead = c.dead;
		int fd = vm.ram_fd;
		uint16_t cmd = commands[plan[i].cmd % 8];
		memset(reply, 0xee, sizeof(reply));
		int ret = vfu_client_request(&c, cmd, payload, sizeof(payload), cmd == VFU_DMA_MAP ? &fd : NULL,
					     cmd == VFU_DMA_MAP, plan[i].cmd & 0x80 ? NULL : reply, cap, &got);
		FUZZ_CHECK(ret <= 0 && ret > -4096);
		if (ret == 0 && !(plan[i].cmd & 0x80))
			FUZZ_CHECK(got <= cap);
		/* Nothing is written past the capacity. */
		FUZZ_CHECK(reply[cap] == 0xee);
		if (was_dead)
			FUZZ_CHECK(ret == -EPIPE);
		if (ret == -EPROTO || ret == -ETIMEDOUT)
			FUZZ_CHECK(c.dead);
	}
	vfu_client_close(&c);
}

static void attach(struct fuzz_in *in, unsigned n)
{
	struct { uint16_t off; uint8_t flags; uint32_t value; } plan[16];
	struct csc_boot_dev boot;
	char err[256];

	for (unsigned i = 0; i < n; i++) {
		plan[i].off = fuzz_u16(in);
		plan[i].flags = fuzz_u8(in);
		plan[i].value = fuzz_u32(in);
	}
	device_bytes = in->p + in->pos;
	device_len = fuzz_left(in);
	irq_router_init(&vm.irq, &vm);
	vm.mig_blocker = NULL;
	err[0] = '\0';
	struct vf_device *d = vf_device_attach(&vm, "fuzz.sock", 0, CSC_MMIO_BASE, &boot, err, sizeof(err));
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)));
	if (!d)
		return;
	/* What attach promises the rest of the VMM. */
	FUZZ_CHECK(d->bar_size && d->bar_size <= CSC_MMIO_WINDOW && !(d->bar_size & (d->bar_size - 1)));
	FUZZ_CHECK(d->n_vectors >= 1 && d->n_vectors <= VF_DEVICE_MAX_VECTORS);
	FUZZ_CHECK(boot.mmio_len == d->bar_size && boot.irq_count == d->n_vectors);
	for (unsigned i = 0; i < n; i++) {
		static const uint32_t widths[] = { 4, 8, 2, 1 };
		uint8_t data[8];
		uint32_t len = widths[(plan[i].flags >> 1) & 3];
		memcpy(data, &plan[i].value, 4);
		memcpy(data + 4, &plan[i].value, 4);
		bus_access(&vm.bus, CSC_MMIO_BASE + plan[i].off % d->bar_size, data, len, plan[i].flags & 1);
	}
	vf_device_detach(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;

	fuzz_in_init(&in, data, size);
	fuzz_mute();
	int baseline = count_fds();
	uint8_t mode = fuzz_u8(&in), n = fuzz_u8(&in);
	if (mode & 1)
		attach(&in, n % 16);
	else
		requests(&in, n % 8 + 1);
	if (device_end >= 0)
		close(device_end);
	device_end = -1;
	FUZZ_CHECK(count_fds() == baseline);
	fuzz_unmute();
	return 0;
}

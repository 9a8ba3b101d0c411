/* Fuzz target vfu_server: compsc-nic's vfio-user message handler
 * (nic/vfio_user_server.c: conn_readable, which takes bytes and
 * SCM_RIGHTS descriptors off the socket and frames messages, and handle,
 * which runs each command against the VF model).
 *
 * Both are static, so this file includes vfio_user_server.c. The VMM's
 * end is one end of a socketpair. The input is a list of sends, each with
 * the file descriptors the fuzzer chooses (sealed and unsealed memfds,
 * eventfds, a pipe, /dev/null), so DMA_MAP and SET_IRQS see every kind;
 * after each send the handler runs as the event loop would.
 *
 * Checked: every reply is a well-formed reply header of the size it
 * claims, and when the connection is gone no descriptor is left open
 * (everything the VMM sent is closed or owned by the VF slot, and
 * vfio_user_conn_close releases that).
 *
 * Input, repeated:
 *   u8 ctl     bits 0-3: descriptors to attach (up to 10: more than the
 *              server's 8 are cut by the kernel, MSG_CTRUNC)
 *              bit 6: with bit 7, the message is posted (NO_REPLY)
 *              bit 7: the harness writes the 16-byte header itself
 *              (msg_id counting up, a correct msg_size), else raw bytes
 *   u8 kinds   descriptor kinds, two bits each (cycled)
 *   u8 cmd     (bit 7 only) the command
 *   u16 len    then len bytes */
#include "../../nic/vfio_user_server.c"

#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "../../nic/veb.h"
#include "fuzz_input.h"

#define MEMFD_SIZE (64u << 10)

static struct nic nic;

static uint64_t fake_clock(struct nic *n)
{
	(void)n;
	return 1000000;
}

static void sink(struct nic *n, const uint8_t *frame, size_t len)
{
	(void)n, (void)frame, (void)len;
}

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

static int make_fd(unsigned kind)
{
	int fd = -1, p[2];

	switch (kind) {
	case 0: /* guest RAM as the VMM sends it: sealed against shrinking */
	case 1: /* unsealed: DMA_MAP must refuse it */
		fd = memfd_create("fuzz-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd >= 0 && ftruncate(fd, MEMFD_SIZE) == 0 && kind == 0)
			fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
		break;
	case 2:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	default: /* not an eventfd: SET_IRQS must refuse it */
		if (pipe2(p, O_CLOEXEC) == 0) {
			close(p[1]);
			fd = p[0];
		}
		break;
	}
	if (fd < 0)
		abort();
	return fd;
}

static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, unsigned n)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} control;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (n) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	/* Descriptors need at least one byte to travel with. */
	if (len == 0 && n) {
		iov.iov_base = (void *)"";
		iov.iov_len = 1;
	}
	if (iov.iov_len)
		(void)sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Reads every reply so far and checks its framing. */
static void drain(int fd, uint8_t *acc, size_t *acc_len, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, acc + *acc_len, cap - *acc_len, MSG_DONTWAIT);
		if (n <= 0)
			return;
		*acc_len += (size_t)n;
		while (*acc_len >= sizeof(struct vfu_header)) {
			struct vfu_header h;
			memcpy(&h, acc, sizeof(h));
			FUZZ_CHECK(h.msg_size >= sizeof(h) && h.msg_size <= VFU_MAX_MSG_SIZE);
			FUZZ_CHECK((h.flags & VFU_FLAG_TYPE_MASK) == VFU_FLAG_REPLY);
			FUZZ_CHECK(!(h.flags & VFU_FLAG_ERROR) || (h.error_no > 0 && h.msg_size == sizeof(h)));
			if (*acc_len < h.msg_size)
				break;
			memmove(acc, acc + h.msg_size, *acc_len - h.msg_size);
			*acc_len -= h.msg_size;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_DEBUG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[VFU_MAX_MSG_SIZE + 64], acc[2 * VFU_MAX_MSG_SIZE];
	struct nic_config cfg = { .n_vfs = 1, .mac_base = { 0x02, 0, 0, 0, 0, 0x20 }, .sw = &veb_switch_ops };
	struct fuzz_in in;
	size_t acc_len = 0;
	uint16_t msg_id = 0;
	int sv[2];

	fuzz_in_init(&in, data, size);
	fuzz_mute();
	int baseline_fds = count_fds();
	if (nic_init(&nic, &cfg) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	nic.clock = fake_clock;
	nic.transport = &vfio_user_transport_ops;	/* what vfio_user_listen installs */
	nic.uplink_capture = sink;
	struct nic_vf_slot *s = &nic.slot[0];
	struct vfio_user_conn *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->fd = sv[0];
	c->nic = &nic;
	s->conn = c;
	/* The peer's buffer must hold a whole message: the server never
	 * blocks, a full socket closes the connection. */
	int sz = 4 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));

	while (!in.end && fuzz_left(&in) && s->conn) {
		uint8_t ctl = fuzz_u8(&in), kinds = fuzz_u8(&in), cmd = ctl & 0x80 ? fuzz_u8(&in) : 0;
		size_t len = fuzz_u16(&in), off = 0;
		int fds[16];
		unsigned n_fds = (ctl & 0xf) > 10 ? 10 : ctl & 0xf;

		if (ctl & 0x80) {
			struct vfu_header h = { .msg_id = msg_id++, .command = cmd,
						.flags = ctl & 0x40 ? VFU_FLAG_NO_REPLY : 0 };
			len = len % (VFU_MAX_MSG_SIZE - sizeof(h) + 1);
			h.msg_size = (uint32_t)(sizeof(h) + len);
			memcpy(msg, &h, sizeof(h));
			off = sizeof(h);
		}
		len = fuzz_bytes(&in, msg + off, len);
		if (ctl & 0x80)	/* a cut input still says what it sends */
			memcpy(msg + 4, &(uint32_t){ (uint32_t)(sizeof(struct vfu_header) + len) }, 4);
		for (unsigned i = 0; i < n_fds; i++)
			fds[i] = make_fd((kinds >> (2 * (i % 4))) & 3);
		send_with_fds(sv[1], msg, off + len, fds, n_fds);
		for (unsigned i = 0; i < n_fds; i++)
			close(fds[i]);
		/* The event loop calls the handler while data is pending. */
		while (s->conn && recv(sv[0], &(char){ 0 }, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
			conn_readable(s->conn, EPOLLIN);
		drain(sv[1], acc, &acc_len, sizeof(acc));
	}
	/* The VMM goes away. */
	close(sv[1]);
	if (s->conn)
		conn_readable(s->conn, EPOLLIN);	/* reads EOF: closes */
	FUZZ_CHECK(s->conn == NULL);
	for (unsigned v = 0; v < VF_NUM_VECTORS; v++)
		FUZZ_CHECK(s->irq_fd[v] == -1);
	FUZZ_CHECK(s->vf.dma.n == 0);
	nic_destroy(&nic);
	FUZZ_CHECK(count_fds() == baseline_fds);
	fuzz_unmute();
	return 0;
}

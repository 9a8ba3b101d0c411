/* Fuzz target api: the control socket's per-connection handler
 * (vmm/api.c: client_readable, which splits the byte stream into lines,
 * and handle_line, which parses each as a JSON command and runs it).
 *
 * Both are static, so this file includes api.c. The client is one end of
 * a socketpair; the input is written to the other end in chunks (so lines
 * split across reads are exercised) and client_readable is called after
 * each, as the event loop would. Every reply must be exactly one JSON
 * object per line.
 *
 * The VM is the minimum api.c touches: the event loop (for quit), the
 * pause locks, a device registry, no vCPUs and no migration engine
 * (vm->mig == NULL: "migrate" parses all its arguments, then is refused
 * before any connection is made, so the fuzzer never opens a socket).
 *
 * Input: byte 0 = chunk size (bits 0-6, 0: all at once) | bit 7: first
 * an over-long line (70000 bytes, no newline); then the bytes sent. */
#include "../../vmm/api.c"

#include <fcntl.h>

#include "fuzz_input.h"

static struct vm vm;

static int fake_save(void *o, uint8_t *b, size_t cap, size_t *len, char *err, size_t errlen)
{
	(void)o, (void)b, (void)cap, (void)err, (void)errlen;
	*len = 0;
	return 0;
}

static int fake_load(void *o, uint32_t v, const uint8_t *b, size_t l, char *e, size_t el)
{
	(void)o, (void)v, (void)b, (void)l, (void)e, (void)el;
	return 0;
}
static const struct device_ops dev_platform = { .name = "platform", .version = 1, .load = fake_load, .save = fake_save };
static const struct device_ops dev_net = { .name = "virtio-net0", .version = 2, .load = fake_load, .save = fake_save };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_DEBUG);
	if (evloop_init(&vm.loop) < 0)
		abort();
	pthread_mutex_init(&vm.run_lock, NULL);
	pthread_mutex_init(&vm.pause_lock, NULL);
	pthread_mutex_init(&vm.kick_lock, NULL);
	pthread_cond_init(&vm.run_cond, NULL);
	vm.ram_size = 64ull << 20;
	vm.n_vcpus = 0;	/* nothing to kick */
	device_registry_add(&vm.devices, &dev_platform, NULL, 0);
	device_registry_add(&vm.devices, &dev_net, NULL, 0);
	return 0;
}

static bool alive(struct api *api, struct api_client *c)
{
	return api->clients[0] == c;
}

/* Reads every reply so far; each line must be one JSON object. */
static void drain(int fd, char *acc, size_t *acc_len, size_t cap)
{
	for (;;) {
		ssize_t n = read(fd, acc + *acc_len, cap - *acc_len);
		if (n <= 0)
			return;
		*acc_len += (size_t)n;
		char *nl;
		while ((nl = memchr(acc, '\n', *acc_len))) {
			size_t line = (size_t)(nl - acc);
			json_error_t jerr;
			json_t *o = json_loadb(acc, line, 0, &jerr);
			if (getenv("FUZZ_VERBOSE"))
				dprintf(2, "api reply: %.*s\n", (int)line, acc);
			FUZZ_CHECK(o && json_is_object(o));
			FUZZ_CHECK(json_object_get(o, "return") || json_object_get(o, "error") ||
				   json_object_get(o, "event"));
			json_decref(o);
			memmove(acc, nl + 1, *acc_len - line - 1);
			*acc_len -= line + 1;
		}
		/* A reply never comes near this size. */
		FUZZ_CHECK(*acc_len < cap);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char acc[1 << 17];
	size_t acc_len = 0;
	int sv[2];

	if (size == 0)
		return 0;
	fuzz_mute();
	vm.stopping = false;
	vm.pause_count = 0;
	vm.pause_req = false;
	struct api *api = calloc(1, sizeof(*api));
	struct api_client *c = malloc(sizeof(*c));
	if (!api || !c || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	api->vm = &vm;
	api->listen_fd = -1;
	*c = (struct api_client){ .api = api, .fd = sv[0] };	/* not in the loop: nothing to remove */
	api->clients[0] = c;

	size_t chunk = data[0] & 0x7f ? data[0] & 0x7f : size;
	if (data[0] & 0x80) {
		static char filler[70000];
		memset(filler, 'x', sizeof(filler));
		for (size_t off = 0; off < sizeof(filler) && alive(api, c);) {
			ssize_t n = write(sv[1], filler + off, sizeof(filler) - off);
			if (n > 0)
				off += (size_t)n;
			client_readable(c, EPOLLIN);
			drain(sv[1], acc, &acc_len, sizeof(acc));
		}
	}
	for (size_t off = 1; off < size && alive(api, c);) {
		size_t n = size - off < chunk ? size - off : chunk;
		ssize_t w = write(sv[1], data + off, n);
		if (w > 0)
			off += (size_t)w;
		/* Until the client has read everything written so far. */
		do
			client_readable(c, EPOLLIN);
		while (alive(api, c) && recv(sv[0], &(char){ 0 }, 1, MSG_PEEK | MSG_DONTWAIT) > 0);
		drain(sv[1], acc, &acc_len, sizeof(acc));
	}
	if (alive(api, c))
		client_close(api, c);
	drain(sv[1], acc, &acc_len, sizeof(acc));
	close(sv[1]);
	if (api->user_paused)
		vm_resume(&vm);
	free(api);
	fuzz_unmute();
	return 0;
}

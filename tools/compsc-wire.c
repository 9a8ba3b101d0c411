/* compsc-wire: the far end of a compsc-nic datagram uplink (dgram:PATH), for
 * tests and benchmarks that need more frames per second than a script can
 * move.
 *
 *   compsc-wire --wire PATH sink [--count N] [--idle-ms MS]
 *       receive frames (bound at PATH.peer) until N arrived or the wire was
 *       idle for MS (default 1000); print one JSON line with counts, rate,
 *       and the test-frame sequence accounting
 *   compsc-wire --wire PATH blast --dst MAC [--src MAC] [--count N] [--size B]
 *       send N test frames (EtherType 0x88b5, "CSCF" + sequence) into PATH
 *       as fast as the NIC takes them
 * Exit status 0, 1 on a runtime error, 2 on bad arguments. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../common/mac.h"
#include "../common/unix_sock.h"

#define MAGIC 0x46435343u
#define FRAME_MAX 9216

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "compsc-wire: %s (see --help)\n", msg);
	return 2;
}

static int sink(const char *wire, uint64_t count, uint64_t idle_ms)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	uint8_t buf[65536];
	uint64_t frames = 0, bytes = 0, first = 0, last = 0, test = 0, dups = 0, reordered = 0, next = 0;
	uint8_t *seen = calloc(1, 1 << 20);	/* 8M sequence numbers */

	snprintf(path, sizeof(path), "%s.peer", wire);
	int fd = unix_sock_bind(path, SOCK_DGRAM);
	if (fd < 0 || !seen) {
		fprintf(stderr, "compsc-wire: cannot bind %s: %s\n", path, strerror(fd < 0 ? -fd : ENOMEM));
		return 1;
	}
	int size = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	struct timeval tv = { .tv_sec = (time_t)(idle_ms / 1000), .tv_usec = (suseconds_t)(idle_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("{\"ready\":true}\n");
	fflush(stdout);
	while (!count || frames < count) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;		/* idle */
		last = now_us();
		if (!frames)
			first = last;
		frames++;
		bytes += (uint64_t)n;
		uint32_t magic, seq;
		if (n >= 22 && buf[12] == 0x88 && buf[13] == 0xb5) {
			memcpy(&magic, buf + 14, 4);
			memcpy(&seq, buf + 18, 4);
			if (magic == MAGIC) {
				test++;
				uint32_t bit = seq & ((8u << 20) - 1);
				if (seen[bit / 8] & (1u << (bit % 8)))
					dups++;
				seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
				if (seq != next)
					reordered++;
				next = seq + 1;
			}
		}
	}
	double secs = frames > 1 ? (double)(last - first) / 1e6 : 0;
	printf("{\"frames\":%llu,\"bytes\":%llu,\"first_to_last_us\":%llu,\"fps\":%.0f,\"gbps\":%.4f,"
	       "\"test_frames\":%llu,\"duplicates\":%llu,\"reordered\":%llu}\n",
	       (unsigned long long)frames, (unsigned long long)bytes, (unsigned long long)(last - first),
	       secs > 0 ? (double)(frames - 1) / secs : 0, secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0,
	       (unsigned long long)test, (unsigned long long)dups, (unsigned long long)reordered);
	unlink(path);
	free(seen);
	return 0;
}

static int blast(const char *wire, const uint8_t *dst, const uint8_t *src, uint64_t count, unsigned size)
{
	struct sockaddr_un addr;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t frame[FRAME_MAX];

	if (fd < 0 || unix_sock_addr(&addr, wire) < 0)
		return 1;
	memcpy(frame, dst, 6);
	memcpy(frame + 6, src, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	uint32_t magic = MAGIC;
	memcpy(frame + 14, &magic, 4);
	uint64_t t0 = now_us(), sent = 0;
	for (uint32_t seq = 0; seq < count; seq++) {
		memcpy(frame + 18, &seq, 4);
		for (unsigned i = 22; i < size; i++)
			frame[i] = (uint8_t)(seq + i);
		if (sendto(fd, frame, size, 0, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
			if (errno == EINTR) {
				seq--;
				continue;
			}
			fprintf(stderr, "compsc-wire: send to %s: %s\n", wire, strerror(errno));
			return 1;
		}
		sent++;
	}
	uint64_t us = now_us() - t0;
	printf("{\"sent\":%llu,\"us\":%llu,\"fps\":%.0f}\n", (unsigned long long)sent, (unsigned long long)us,
	       us ? (double)sent * 1e6 / (double)us : 0);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wire", required_argument, NULL, 'w' }, { "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' }, { "dst", required_argument, NULL, 'd' },
		{ "src", required_argument, NULL, 'S' }, { "idle-ms", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *wire = NULL;
	uint64_t count = 0, idle_ms = 1000;
	unsigned size = 64;
	uint8_t dst[6], src[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	int have_dst = 0, opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': wire = optarg; break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 's':
			size = (unsigned)strtoul(optarg, NULL, 10);
			if (size < 64 || size > FRAME_MAX)
				return usage_error("--size must be 64..9216");
			break;
		case 'd':
			if (mac_parse(optarg, dst) < 0)
				return usage_error("--dst is not a MAC address");
			have_dst = 1;
			break;
		case 'S':
			if (mac_parse(optarg, src) < 0)
				return usage_error("--src is not a MAC address");
			break;
		case 'i': idle_ms = strtoull(optarg, NULL, 10); break;
		case 'h':
			printf("Usage: compsc-wire --wire PATH sink [--count N] [--idle-ms MS]\n"
			       "       compsc-wire --wire PATH blast --dst MAC [--src MAC] [--count N] [--size B]\n");
			return 0;
		case ':': return usage_error("an option needs a value");
		default: return usage_error("unknown option");
		}
	}
	if (!wire || optind != argc - 1)
		return usage_error("--wire PATH and one of sink, blast are required");
	if (strcmp(argv[optind], "sink") == 0)
		return sink(wire, count, idle_ms);
	if (strcmp(argv[optind], "blast") == 0) {
		if (!have_dst || !count)
			return usage_error("blast needs --dst and --count");
		return blast(wire, dst, src, count, size);
	}
	return usage_error("the command is sink or blast");
}

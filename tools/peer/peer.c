/* compsc-peer: the Linux side of the UDP sequence stream (common/udpstream.h).
 *
 *   compsc-peer send --to HOST:PORT [--rate PPS] [--secs N] [--size B] [--echo]
 *   compsc-peer recv [--port P] [--secs N]
 *   common: [--bucket-ms MS] [--json FILE] [--csv FILE] [--grace-ms MS]
 *
 * send: sends seq 0.. at a steady rate; with --echo it also receives what
 * comes back (the guest's echo app) and accounts for it. recv: accounts for
 * the stream the guest's udpsource sends (ends at the last datagram plus the
 * grace time, or after --secs). Prints a one-line summary; JSON has the
 * summary and the per-bucket throughput, CSV the buckets.
 * Exit status: 0 done, 1 error, 2 bad arguments. Bad input never aborts. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/udpstream.h"
#include "stream_stats.h"

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "compsc-peer: %s\n", msg);
	fprintf(stderr,
		"usage: compsc-peer send --to HOST:PORT [--rate PPS] [--secs N] [--size B] [--echo]\n"
		"       compsc-peer recv [--port P] [--secs N]\n"
		"       common: [--bucket-ms MS] [--grace-ms MS] [--json FILE] [--csv FILE]\n");
	return 2;
}

static int parse_u64_arg(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_hostport(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || parse_u64_arg(colon + 1, 1, 65535, &port) < 0)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

struct run {
	const char *mode;
	uint64_t sent, foreign, bucket_us, duration_us;
	uint64_t last_flag_us;	/* when the sender's last datagram arrived */
	struct stream_stats ss;
};

static void drain(int fd, struct run *r)
{
	uint8_t buf[2048];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return;
		struct csc_udpstream_hdr h;
		if (csc_udpstream_decode(buf, (uint32_t)n, &h) < 0) {
			r->foreign++;
			continue;
		}
		ss_record(&r->ss, h.seq, (uint64_t)n, now_us());
		if ((h.flags & CSC_UDPSTREAM_F_LAST) && !r->last_flag_us)
			r->last_flag_us = now_us();
	}
}

static void report(struct run *r, FILE *json, FILE *csv)
{
	const struct stream_stats *s = &r->ss;
	uint64_t expected = strcmp(r->mode, "send") == 0 ? r->sent : 0;
	uint64_t missed = ss_missed(s, expected);
	double secs = (double)r->duration_us / 1e6;

	printf("compsc-peer: %s sent %" PRIu64 " received %" PRIu64 " unique %" PRIu64 " missed %" PRIu64
	       " duplicated %" PRIu64 " reordered %" PRIu64 " foreign %" PRIu64 " longest_gap_ms %.3f"
	       " rate_pps %.0f\n",
	       r->mode, r->sent, s->received, s->unique, missed, s->duplicates, s->reordered, r->foreign,
	       (double)s->longest_gap_us / 1000.0, secs > 0 ? (double)s->unique / secs : 0.0);
	if (json) {
		fprintf(json,
			"{\"mode\": \"%s\", \"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"unique\": %" PRIu64
			", \"missed\": %" PRIu64 ", \"duplicated\": %" PRIu64 ", \"reordered\": %" PRIu64
			", \"foreign\": %" PRIu64 ", \"longest_gap_ms\": %.3f, \"longest_gap_at_ms\": %.3f"
			", \"bytes\": %" PRIu64 ", \"bucket_ms\": %.3f, \"buckets\": [",
			r->mode, r->sent, s->received, s->unique, missed, s->duplicates, s->reordered, r->foreign,
			(double)s->longest_gap_us / 1000.0, (double)s->longest_gap_at_us / 1000.0, s->bytes,
			(double)r->bucket_us / 1000.0);
		for (size_t i = 0; i < s->n_buckets; i++)
			fprintf(json, "%s{\"t_ms\": %.1f, \"packets\": %" PRIu64 ", \"mbit_s\": %.3f}", i ? ", " : "",
				(double)(i * r->bucket_us) / 1000.0, s->buckets[i].packets,
				(double)s->buckets[i].bytes * 8.0 / (double)r->bucket_us);
		fprintf(json, "]}\n");
	}
	if (csv) {
		fprintf(csv, "t_ms,packets,bytes,mbit_s\n");
		for (size_t i = 0; i < s->n_buckets; i++)
			fprintf(csv, "%.1f,%" PRIu64 ",%" PRIu64 ",%.3f\n", (double)(i * r->bucket_us) / 1000.0,
				s->buckets[i].packets, s->buckets[i].bytes,
				(double)s->buckets[i].bytes * 8.0 / (double)r->bucket_us);
	}
}

int main(int argc, char **argv)
{
	enum { O_TO = 256, O_RATE, O_SECS, O_SIZE, O_ECHO, O_PORT, O_BUCKET, O_GRACE, O_JSON, O_CSV, O_HELP };
	static const struct option opts[] = {
		{ "to", required_argument, NULL, O_TO }, { "rate", required_argument, NULL, O_RATE },
		{ "secs", required_argument, NULL, O_SECS }, { "size", required_argument, NULL, O_SIZE },
		{ "echo", no_argument, NULL, O_ECHO }, { "port", required_argument, NULL, O_PORT },
		{ "bucket-ms", required_argument, NULL, O_BUCKET }, { "grace-ms", required_argument, NULL, O_GRACE },
		{ "json", required_argument, NULL, O_JSON }, { "csv", required_argument, NULL, O_CSV },
		{ "help", no_argument, NULL, O_HELP }, { NULL, 0, NULL, 0 },
	};
	struct sockaddr_in to = { 0 };
	bool have_to = false, echo = false;
	uint64_t rate = 1000, secs = 10, size = 64, port = CSC_UDPSTREAM_SINK_PORT, bucket_ms = 100, grace_ms = 1000;
	const char *json_path = NULL, *csv_path = NULL;
	int opt;

	if (argc < 2)
		return usage(NULL);
	const char *mode = argv[1];
	if (strcmp(mode, "--help") == 0)
		return usage(NULL), 0;
	if (strcmp(mode, "send") && strcmp(mode, "recv"))
		return usage("the first argument is send or recv");
	optind = 2;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		int bad = 0;
		switch (opt) {
		case O_TO: bad = parse_hostport(optarg, &to); have_to = !bad; break;
		case O_RATE: bad = parse_u64_arg(optarg, 1, 10000000, &rate); break;
		case O_SECS: bad = parse_u64_arg(optarg, 1, 86400, &secs); break;
		case O_SIZE: bad = parse_u64_arg(optarg, CSC_UDPSTREAM_HDR_LEN, 1472, &size); break;
		case O_ECHO: echo = true; break;
		case O_PORT: bad = parse_u64_arg(optarg, 1, 65535, &port); break;
		case O_BUCKET: bad = parse_u64_arg(optarg, 1, 60000, &bucket_ms); break;
		case O_GRACE: bad = parse_u64_arg(optarg, 0, 60000, &grace_ms); break;
		case O_JSON: json_path = optarg; break;
		case O_CSV: csv_path = optarg; break;
		case O_HELP: usage(NULL); return 0;
		default: return usage("unknown option or missing value");
		}
		if (bad) {
			fprintf(stderr, "compsc-peer: bad value '%s'\n", optarg);
			return usage(NULL);
		}
	}
	if (optind < argc)
		return usage("unexpected argument");
	bool sending = strcmp(mode, "send") == 0;
	if (sending && !have_to)
		return usage("send needs --to HOST:PORT");

	struct run r = { .mode = mode, .bucket_us = bucket_ms * 1000 };
	if (ss_init(&r.ss, r.bucket_us, 20) < 0) {
		fprintf(stderr, "compsc-peer: out of memory\n");
		return 1;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("compsc-peer: socket");
		return 1;
	}
	int rcvbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (!sending) {
		struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
			perror("compsc-peer: bind");
			return 1;
		}
	}

	uint8_t pkt[1472];
	memset(pkt, 0, sizeof(pkt));
	uint64_t start = now_us(), total = sending ? rate * secs : 0, end = start + secs * 1000000;
	uint64_t stop_at = 0;	/* recv: set when the last datagram arrived */
	for (;;) {
		uint64_t t = now_us();
		if (sending) {
			uint64_t due = (t - start) * rate / 1000000 + 1;
			if (due > total)
				due = total;
			while (r.sent < due) {
				struct csc_udpstream_hdr h = { .magic = CSC_UDPSTREAM_MAGIC, .seq = r.sent, .send_us = t,
							       .flags = r.sent + 1 == total ? CSC_UDPSTREAM_F_LAST : 0 };
				csc_udpstream_encode(pkt, &h);
				if (sendto(fd, pkt, size, 0, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EAGAIN &&
				    errno != ENOBUFS && errno != ECONNREFUSED) {
					perror("compsc-peer: sendto");
					return 1;
				}
				r.sent++;
			}
			if (r.sent >= total && !stop_at)
				stop_at = t + (echo ? grace_ms * 1000 : 0);
		}
		if (echo || !sending)
			drain(fd, &r);
		/* recv: the sender flags its last datagram; wait for stragglers. */
		if (!sending && r.last_flag_us && !stop_at)
			stop_at = r.last_flag_us + grace_ms * 1000;
		t = now_us();
		if (stop_at && t >= stop_at)
			break;
		if (!sending && t >= end)
			break;
		uint64_t wait_us = sending && r.sent < total ? start + r.sent * 1000000 / rate : t + 10000;
		int timeout = wait_us > t ? (int)((wait_us - t + 999) / 1000) : 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (echo || !sending)
			poll(&p, 1, timeout);
		else if (timeout)
			usleep((useconds_t)(wait_us - t));
	}
	r.duration_us = now_us() - start;
	close(fd);

	FILE *json = json_path ? fopen(json_path, "w") : NULL, *csv = csv_path ? fopen(csv_path, "w") : NULL;
	if ((json_path && !json) || (csv_path && !csv))
		fprintf(stderr, "compsc-peer: cannot write the output file: %s\n", strerror(errno));
	report(&r, json, csv);
	if (json)
		fclose(json);
	if (csv)
		fclose(csv);
	ss_free(&r.ss);
	return 0;
}

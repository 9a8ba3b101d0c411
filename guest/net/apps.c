/* Network applications of the guest (see net.h for the main loop).
 *
 *   iperf                    lwiperf TCP server, port 5001 (iperf 2)
 *   iperf-client=HOST[:PORT] lwiperf TCP client (secs=N, lwIP 2.1.3 runs
 *                            at most 10 s; fewer seconds abort it early)
 *   echo                     UDP and TCP echo on port 7
 *   udpsink                  counts the sequence stream on port 5555
 *   udpsource=HOST:PORT      sends the sequence stream: rate=PPS (1000),
 *                            size=BYTES (64), secs=N (10) or count=N
 *   http                     lwIP httpd on port 80 (pages + /big.bin, 1 MiB)
 *   opsetloop                set-mac/multicast/lpe/down/up on vf0 in a loop:
 *                            loops=N opset-us=U (opsetloop.c)
 *   memload                  fills fill-mib=N MiB, dirties dirty-rate=P pages/s
 *                            (memload.c)
 * Ping replies come from lwIP's ICMP whatever the apps. */
#include "../../common/udpstream.h"
#include "guest/rt.h"
#include "guest/string.h"
#include "lwip/apps/httpd.h"
#include "lwip/apps/lwiperf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "net.h"

/* ---- iperf ------------------------------------------------------------- */

static const char *const report_names[] = {
	"server done", "client done", "aborted (local)", "aborted (data error)", "aborted (tx error)",
	"aborted (remote)",
};

static void iperf_report(void *arg, enum lwiperf_report_type type, const ip_addr_t *local_addr,
			 u16_t local_port, const ip_addr_t *remote_addr, u16_t remote_port, u32_t bytes,
			 u32_t ms, u32_t kbps)
{
	(void)arg;
	(void)local_addr;
	(void)local_port;
	printf("iperf: %s: %u bytes in %u ms, %u kbit/s, peer %s:%u\n",
	       (unsigned)type < 6 ? report_names[type] : "?", (unsigned)bytes, (unsigned)ms, (unsigned)kbps,
	       ipaddr_ntoa(remote_addr), (unsigned)remote_port);
}

static int iperf_start(void)
{
	if (!lwiperf_start_tcp_server_default(iperf_report, NULL)) {
		printf("iperf: cannot listen on port 5001\n");
		return 1;
	}
	printf("iperf: server on port 5001\n");
	return 0;
}

static struct {
	void *session;
	bool finished;
	uint64_t end_us;
} ic;

static void iperf_client_report(void *arg, enum lwiperf_report_type type, const ip_addr_t *local_addr,
				u16_t local_port, const ip_addr_t *remote_addr, u16_t remote_port, u32_t bytes,
				u32_t ms, u32_t kbps)
{
	iperf_report(arg, type, local_addr, local_port, remote_addr, remote_port, bytes, ms, kbps);
	ic.finished = true;
	ic.session = NULL;
}

static int iperf_client_start(void)
{
	char buf[32];
	ip4_addr_t addr;
	uint16_t port;
	ip_addr_t a;

	if (!cmdline_get("iperf-client", buf, sizeof(buf)) || !net_parse_hostport(buf, &addr, &port, 5001)) {
		printf("iperf-client: needs iperf-client=A.B.C.D[:PORT]\n");
		return 2;
	}
	ip_addr_copy_from_ip4(a, addr);
	uint64_t secs = cmdline_get_u64("secs", 10);
	ic.session = lwiperf_start_tcp_client(&a, port, LWIPERF_CLIENT, iperf_client_report, NULL);
	if (!ic.session) {
		printf("iperf-client: cannot start\n");
		return 1;
	}
	ic.end_us = secs < 10 ? clock_us() + secs * 1000000 : 0;
	printf("iperf-client: sending to %s:%u for %llu s\n", buf, port,
	       (unsigned long long)(secs < 10 ? secs : 10));
	return 0;
}

static bool iperf_client_poll(uint64_t now, uint64_t *next)
{
	if (ic.session && ic.end_us) {
		if (now >= ic.end_us) {
			/* lwIP 2.1.3's client has a fixed 10 s; stop it early. */
			lwiperf_abort(ic.session);
			ic.session = NULL;
			ic.finished = true;
			printf("iperf-client: stopped after %llu ms\n", (unsigned long long)cmdline_get_u64("secs", 10) * 1000);
		} else if (ic.end_us < *next) {
			*next = ic.end_us;
		}
	}
	return false;
}

static bool iperf_client_done(void)
{
	return ic.finished;
}

/* ---- echo -------------------------------------------------------------- */

static uint64_t echo_udp_packets, echo_tcp_bytes;

static void echo_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	(void)arg;
	echo_udp_packets++;
	udp_sendto(pcb, p, addr, port);
	pbuf_free(p);
}

/* TCP echo: what does not fit in the send buffer waits in `pending` and
 * goes out from the sent callback; the window opens only as data leaves. */
struct echo_conn {
	struct pbuf *pending;
};

static void echo_tcp_send(struct tcp_pcb *pcb, struct echo_conn *c)
{
	while (c->pending) {
		struct pbuf *p = c->pending;
		u16_t room = tcp_sndbuf(pcb), len = p->len < room ? p->len : room;
		if (!len || tcp_write(pcb, p->payload, len, TCP_WRITE_FLAG_COPY) != ERR_OK)
			break;
		echo_tcp_bytes += len;
		tcp_recved(pcb, len);
		if (len < p->len) {
			pbuf_remove_header(p, len);
			break;
		}
		c->pending = p->next;
		if (c->pending)
			pbuf_ref(c->pending);
		pbuf_free(p);
	}
	tcp_output(pcb);
}

static err_t echo_tcp_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)len;
	if (arg)
		echo_tcp_send(pcb, arg);
	return ERR_OK;
}

static err_t echo_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct echo_conn *c = arg;

	if (!p || err != ERR_OK) {
		if (p)
			pbuf_free(p);
		if (c && c->pending)
			pbuf_free(c->pending);
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		mem_free(c);
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		return ERR_OK;	/* after tcp_abort this would be ERR_ABRT; close rarely fails */
	}
	if (c->pending)
		pbuf_cat(c->pending, p);
	else
		c->pending = p;
	echo_tcp_send(pcb, c);
	return ERR_OK;
}

static void echo_tcp_err(void *arg, err_t err)
{
	struct echo_conn *c = arg;

	(void)err;
	if (c) {
		if (c->pending)
			pbuf_free(c->pending);
		mem_free(c);
	}
}

static err_t echo_tcp_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	struct echo_conn *c = mem_malloc(sizeof(*c));
	if (!c)
		return ERR_MEM;
	c->pending = NULL;
	tcp_arg(pcb, c);
	tcp_recv(pcb, echo_tcp_recv);
	tcp_sent(pcb, echo_tcp_sent);
	tcp_err(pcb, echo_tcp_err);
	return ERR_OK;
}

static int echo_start(void)
{
	struct udp_pcb *u = udp_new();
	struct tcp_pcb *t = tcp_new();

	if (!u || !t || udp_bind(u, IP_ADDR_ANY, CSC_UDPSTREAM_ECHO_PORT) != ERR_OK ||
	    tcp_bind(t, IP_ADDR_ANY, CSC_UDPSTREAM_ECHO_PORT) != ERR_OK || !(t = tcp_listen(t))) {
		printf("echo: cannot bind port 7\n");
		return 1;
	}
	udp_recv(u, echo_udp_recv, NULL);
	tcp_accept(t, echo_tcp_accept);
	printf("echo: UDP and TCP port 7\n");
	return 0;
}

static void echo_report(void)
{
	printf("echo: %llu datagrams, %llu TCP bytes\n", (unsigned long long)echo_udp_packets,
	       (unsigned long long)echo_tcp_bytes);
}

/* ---- udpsink ----------------------------------------------------------- */

static struct {
	uint64_t packets, bytes, foreign, reordered, next_seq, gaps;
} sink;

static void sink_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	uint8_t hdr[CSC_UDPSTREAM_HDR_LEN];
	struct csc_udpstream_hdr h;

	(void)arg, (void)pcb, (void)addr, (void)port;
	if (pbuf_copy_partial(p, hdr, sizeof(hdr), 0) != sizeof(hdr) || csc_udpstream_decode(hdr, sizeof(hdr), &h)) {
		sink.foreign++;
	} else {
		sink.packets++;
		sink.bytes += p->tot_len;
		if (h.seq < sink.next_seq)
			sink.reordered++;
		else {
			if (h.seq > sink.next_seq)
				sink.gaps++;
			sink.next_seq = h.seq + 1;
		}
	}
	pbuf_free(p);
}

static int sink_start(void)
{
	struct udp_pcb *u = udp_new();

	if (!u || udp_bind(u, IP_ADDR_ANY, CSC_UDPSTREAM_SINK_PORT) != ERR_OK) {
		printf("udpsink: cannot bind port %d\n", CSC_UDPSTREAM_SINK_PORT);
		return 1;
	}
	udp_recv(u, sink_recv, NULL);
	printf("udpsink: UDP port %d\n", CSC_UDPSTREAM_SINK_PORT);
	return 0;
}

static void sink_report(void)
{
	printf("udpsink: %llu datagrams %llu B, highest seq %lld, %llu gaps, %llu late, %llu foreign\n",
	       (unsigned long long)sink.packets, (unsigned long long)sink.bytes, (long long)sink.next_seq - 1,
	       (unsigned long long)sink.gaps, (unsigned long long)sink.reordered,
	       (unsigned long long)sink.foreign);
}

/* ---- udpsource --------------------------------------------------------- */

static struct {
	struct udp_pcb *pcb;
	ip_addr_t dst;
	uint16_t port;
	uint64_t rate, size, count, sent, start_us, errors;
	bool finished;
} src;

static int source_start(void)
{
	char buf[32];
	ip4_addr_t a;

	if (!cmdline_get("udpsource", buf, sizeof(buf)) ||
	    !net_parse_hostport(buf, &a, &src.port, CSC_UDPSTREAM_SINK_PORT)) {
		printf("udpsource: needs udpsource=A.B.C.D[:PORT]\n");
		return 2;
	}
	ip_addr_copy_from_ip4(src.dst, a);
	src.rate = cmdline_get_u64("rate", 1000);
	src.size = cmdline_get_u64("size", 64);
	if (src.rate == 0 || src.rate > 1000000 || src.size < CSC_UDPSTREAM_HDR_LEN || src.size > 1472) {
		printf("udpsource: rate must be 1..1000000, size %d..1472\n", CSC_UDPSTREAM_HDR_LEN);
		return 2;
	}
	src.count = cmdline_get_u64("count", src.rate * cmdline_get_u64("secs", 10));
	src.pcb = udp_new();
	if (!src.pcb || udp_bind(src.pcb, IP_ADDR_ANY, 0) != ERR_OK)
		return 1;
	src.start_us = clock_us();
	printf("udpsource: %llu datagrams of %llu B at %llu/s to %s\n", (unsigned long long)src.count,
	       (unsigned long long)src.size, (unsigned long long)src.rate, buf);
	return 0;
}

static bool source_poll(uint64_t now, uint64_t *next)
{
	if (src.finished)
		return false;
	uint64_t due = (now - src.start_us) * src.rate / 1000000 + 1;
	if (due > src.count)
		due = src.count;
	unsigned burst = 0;
	while (src.sent < due && burst < 64) {
		struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)src.size, PBUF_RAM);
		if (!p)
			break;
		struct csc_udpstream_hdr h = {
			.magic = CSC_UDPSTREAM_MAGIC, .seq = src.sent, .send_us = now,
			.flags = src.sent + 1 == src.count ? CSC_UDPSTREAM_F_LAST : 0,
		};
		memset(p->payload, 0, src.size);
		csc_udpstream_encode(p->payload, &h);
		if (udp_sendto(src.pcb, p, &src.dst, src.port) != ERR_OK)
			src.errors++;
		pbuf_free(p);
		src.sent++;
		burst++;
	}
	if (src.sent >= src.count) {
		src.finished = true;
		printf("udpsource: done, %llu sent, %llu errors\n", (unsigned long long)src.sent,
		       (unsigned long long)src.errors);
		return burst > 0;
	}
	uint64_t at = src.start_us + src.sent * 1000000 / src.rate;
	if (at < *next)
		*next = at;
	return burst > 0;
}

static bool source_done(void)
{
	return src.finished;
}

/* ---- http -------------------------------------------------------------- */

static int http_start(void)
{
	httpd_init();
	printf("http: httpd on port 80\n");
	return 0;
}

const struct net_app net_apps[] = {
	{ "iperf", "iperf 2 TCP server on port 5001", iperf_start, NULL, NULL, NULL },
	{ "iperf-client", "iperf 2 TCP client: iperf-client=HOST[:PORT] secs=N", iperf_client_start,
	  iperf_client_poll, iperf_client_done, NULL },
	{ "echo", "UDP and TCP echo on port 7", echo_start, NULL, NULL, echo_report },
	{ "udpsink", "sequence-stream sink on UDP 5555", sink_start, NULL, NULL, sink_report },
	{ "udpsource", "sequence stream: udpsource=HOST[:PORT] rate=PPS size=B secs=N|count=N", source_start,
	  source_poll, source_done, NULL },
	{ "http", "lwIP httpd on port 80", http_start, NULL, NULL, NULL },
	{ "opsetloop", "CompSC op sets in a loop on vf0: loops=N opset-us=U (opsetloop.c)", opsetloop_start,
	  opsetloop_poll, opsetloop_done, opsetloop_report },
	{ "memload", "fill-mib=N MiB written once, then dirty-rate=P pages/s (memload.c)", memload_start,
	  memload_poll, NULL, memload_report },
};
const unsigned net_n_apps = sizeof(net_apps) / sizeof(net_apps[0]);

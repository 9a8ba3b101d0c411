#include "pf_ctl.h"
#include "vf_queues.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/hex.h"
#include "../common/mac.h"
#include "../common/unix_sock.h"
#include "nic.h"

#define CTL_LINE_MAX 4096	/* inject carries one frame in hex */
/* Each client holds a 64 KiB reply buffer and a slot in the event loop:
 * beyond this many at once, a new one is told so and closed rather than
 * left waiting in the backlog. */
#define CTL_MAX_CLIENTS 8

struct ctl_client {
	int fd;
	struct nic *nic;
	char line[CTL_LINE_MAX];
	size_t len;
	bool overflow;
	char reply[65536];	/* one reply line; the longest (regs, list) fit with room */
};

struct out {
	char *buf;
	size_t size, len;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->len >= o->size)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void emit_hex(struct out *o, const uint8_t *bytes, size_t len)
{
	if (o->len + 2 * len >= o->size)
		return;
	hex_encode(o->buf + o->len, bytes, len);
	o->len += 2 * len;
	o->buf[o->len] = '\0';
}

static void emit_mac(struct out *o, const char *key, const uint8_t *m)
{
	char text[MAC_STR_LEN];

	emit(o, "\"%s\":\"%s\"", key, mac_format(m, text));
}

static void emit_vf(struct out *o, struct nic *nic, unsigned i)
{
	struct nic_vf_slot *s = &nic->slot[i];
	struct nic_vf *vf = &s->vf;

	emit(o, "{\"vf\":%u,\"assignment\":\"%s\",\"owner\":\"", i, s->assignment == VF_ASSIGNED ? "assigned" : "free");
	for (const char *p = s->owner; *p; p++)	/* owner came from a command line: escape it */
		emit(o, (*p == '"' || *p == '\\') ? "\\%c" : (*p < 0x20 ? "?" : "%c"), *p);
	emit(o, "\",");
	emit_mac(o, "perm_mac", s->perm_mac);
	emit(o, ",");
	emit_mac(o, "mac", s->mac);
	emit(o, ",\"mac_locked\":%s,\"driver_ready\":%s,\"queues_enabled\":%s,\"vmm_connected\":%s,"
		"\"rx_enabled\":%s,\"tx_enabled\":%s,\"rx_head\":%u,\"tx_head\":%u,\"max_frame\":%u,",
	     s->mac_locked ? "true" : "false", s->cts ? "true" : "false", vf->pf_enabled ? "true" : "false",
	     s->conn ? "true" : "false", vf->rxq[0].enabled ? "true" : "false",
	     vf->txq[0].enabled ? "true" : "false", vf->rxq[0].head, vf->txq[0].head, vf->max_frame);
	emit(o, "\"rx_packets\":%u,\"tx_packets\":%u,\"rx_bytes\":%u,\"tx_bytes\":%u,\"rx_held\":%u,",
	     vf_reg(vf, VF_GPRC), vf_reg(vf, VF_GPTC), vf_reg(vf, VF_GORC), vf_reg(vf, VF_GOTC), vf->fifo_count);
	emit(o, "\"errors\":{\"unknown_reads\":%llu,\"unknown_writes\":%llu,\"ro_writes\":%llu,"
		"\"dma_faults\":%llu,\"rx_drops\":%llu,\"rx_oversize\":%llu,\"tx_oversize\":%llu,"
		"\"irq_lost\":%llu,\"mbx_messages\":%llu,\"mbx_nacks\":%llu}}",
	     (unsigned long long)vf->err.unknown_reads, (unsigned long long)vf->err.unknown_writes,
	     (unsigned long long)vf->err.ro_writes, (unsigned long long)vf->err.dma_faults,
	     (unsigned long long)vf->err.rx_fifo_drops, (unsigned long long)vf->err.rx_oversize,
	     (unsigned long long)vf->err.tx_oversize, (unsigned long long)vf->err.irq_lost,
	     (unsigned long long)s->mbx_messages, (unsigned long long)s->mbx_nacks);
}

static int parse_vf(struct nic *nic, const char *arg, unsigned *vf)
{
	char *end;
	unsigned long v;

	if (!arg)
		return -EINVAL;
	v = strtoul(arg, &end, 10);
	if (*end || end == arg || v >= nic->n_vfs)
		return -ENOENT;
	*vf = (unsigned)v;
	return 0;
}

/* A RARP broadcast from the VF's MAC (QEMU's self-announce): the switches
 * on the way learn at once that the VM is behind this port, before its
 * guest has run a single instruction. */
static int announce(struct nic *nic, unsigned vf)
{
	const uint8_t *mac = nic->slot[vf].mac;
	uint8_t f[60] = { 0 };

	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x80, f[13] = 0x35;		/* RARP */
	f[14] = 0, f[15] = 1;			/* Ethernet */
	f[16] = 0x08, f[17] = 0x00;		/* IPv4 */
	f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 3;	/* reverse request */
	memcpy(f + 22, mac, 6);
	memcpy(f + 32, mac, 6);
	return nic->sw->transmit(nic, vf, f, sizeof(f));
}

/* A migration's destination VF: its queues stopped, frames for its MAC
 * kept in its buffer even before its driver's reset handshake, until the
 * driver has restored it. */
static void hold(struct nic *nic, unsigned vf)
{
	nic->slot[vf].hold_early = true;
	nic_pf_set_enabled(nic, vf, false);
}

void pf_ctl_execute(struct nic *nic, const char *line, char *out_buf, size_t out_len)
{
	struct out o = { out_buf, out_len, 0 };
	char copy[CTL_LINE_MAX], *save = NULL;
	unsigned vf;

	out_buf[0] = '\0';
	snprintf(copy, sizeof(copy), "%s", line);
	char *cmd = strtok_r(copy, " \t\r\n", &save);
	char *arg = strtok_r(NULL, " \t\r\n", &save);
	if (!cmd) {
		emit(&o, "{\"error\":\"empty command\"}");
		return;
	}
	if (strcmp(cmd, "list") == 0) {
		emit(&o, "{\"vfs\":[");
		for (unsigned i = 0; i < nic->n_vfs; i++) {
			if (i)
				emit(&o, ",");
			emit_vf(&o, nic, i);
		}
		emit(&o, "]}");
	} else if (strcmp(cmd, "stats") == 0) {
		emit(&o, "{\"uplink\":\"%s\",\"uplink_rx_frames\":%llu,\"uplink_tx_frames\":%llu,"
			 "\"uplink_rx_bytes\":%llu,\"uplink_tx_bytes\":%llu,\"uplink_rx_unmatched\":%llu,"
			 "\"uplink_tx_errors\":%llu,\"switched_frames\":%llu,\"line_rate_bps\":%llu}",
		     nic->uplink ? uplink_describe(nic->uplink) : "none",
		     (unsigned long long)nic->ctr.uplink_rx_frames, (unsigned long long)nic->ctr.uplink_tx_frames,
		     (unsigned long long)nic->ctr.uplink_rx_bytes, (unsigned long long)nic->ctr.uplink_tx_bytes,
		     (unsigned long long)nic->ctr.uplink_rx_unmatched, (unsigned long long)nic->ctr.uplink_tx_errors,
		     (unsigned long long)nic->ctr.switched_frames,
		     (unsigned long long)(nic->egress.rate_bytes_per_s * 8));
	} else if (parse_vf(nic, arg, &vf) < 0) {
		if (strcmp(cmd, "assign") && strcmp(cmd, "free") && strcmp(cmd, "enable") &&
		    strcmp(cmd, "disable") && strcmp(cmd, "regs") && strcmp(cmd, "take") && strcmp(cmd, "inject") &&
		    strcmp(cmd, "announce") && strcmp(cmd, "hold") && strcmp(cmd, "arrive"))
			emit(&o, "{\"error\":\"unknown command '%.40s' (list, stats, assign, free, enable, disable, regs, "
				 "take, inject, announce, hold, arrive)\"}", cmd);
		else
			emit(&o, "{\"error\":\"%s needs a VF number 0..%u\"}", cmd, nic->n_vfs - 1);
	} else if (strcmp(cmd, "assign") == 0 || strcmp(cmd, "arrive") == 0) {
		/* arrive: a migration's destination in one round trip (its
		 * downtime waits): assign, then only if that worked hold and
		 * announce. */
		bool arrive = strcmp(cmd, "arrive") == 0;
		uint8_t mac[6];
		bool have_mac = false;
		const char *owner = "";
		for (char *kv; (kv = strtok_r(NULL, " \t\r\n", &save));) {
			if (strncmp(kv, "mac=", 4) == 0) {
				if (mac_parse(kv + 4, mac) < 0) {
					emit(&o, "{\"error\":\"bad MAC '%.40s'\"}", kv + 4);
					return;
				}
				have_mac = true;
			} else if (strncmp(kv, "owner=", 6) == 0) {
				owner = kv + 6;
			} else {
				emit(&o, "{\"error\":\"unknown assign parameter '%.40s'\"}", kv);
				return;
			}
		}
		int ret = nic_pf_assign(nic, vf, have_mac ? mac : NULL, owner);
		if (ret < 0) {
			emit(&o, "{\"error\":\"%s: %s\"}", cmd, ret == -EINVAL ? "MAC must be unicast and non-zero"
								 : ret == -EEXIST ? "MAC in use by another VF"
										    : strerror(-ret));
		} else if (arrive) {
			hold(nic, vf);
			emit(&o, "{\"vf\":%u,\"held\":true,\"announced\":%s}", vf,
			     announce(nic, vf) < 0 ? "false" : "true");
		} else {
			emit_vf(&o, nic, vf);
		}
	} else if (strcmp(cmd, "free") == 0) {
		nic_pf_free(nic, vf);
		emit_vf(&o, nic, vf);
	} else if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0) {
		nic_pf_set_enabled(nic, vf, cmd[0] == 'e');
		emit_vf(&o, nic, vf);
	} else if (strcmp(cmd, "regs") == 0) {
		/* The PF's view: values as stored, without the side effects a
		 * VF-side read has (read-to-clear registers stay as they are). */
		struct nic_vf *v = &nic->slot[vf].vf;
		emit(&o, "{\"vf\":%u,\"regs\":{", vf);
		for (unsigned i = 0; i < vf82576_n_regs; i++) {
			const struct vf_reg_info *r = &vf82576_regs[i];
			emit(&o, "%s\"%s\":{\"offset\":%u,\"value\":%u,\"class\":\"%s\",\"migrate\":%s}", i ? "," : "",
			     r->name, r->offset, vf_reg(v, r->offset), vf_reg_class_name(r->cls),
			     r->flags & VF_REGF_MIGRATE ? "true" : "false");
		}
		emit(&o, "}}");
	} else if (strcmp(cmd, "take") == 0) {
		/* CompSC's zero loss: frames held while the PF stopped the VF,
		 * handed to the migration (hex, oldest first, at most 16 per
		 * call to fit the reply line; "left" says how many remain). */
		struct nic_vf *v = &nic->slot[vf].vf;
		static uint8_t frame[VF_MAX_FRAME_LIMIT];
		size_t len;
		unsigned n = 0;
		emit(&o, "{\"vf\":%u,\"frames\":[", vf);
		/* Room for one more jumbo frame in hex: the reply stays one line. */
		while (o.len + 2 * VF_MAX_FRAME_LIMIT + 64 < o.size && nic_vf_take_held(v, frame, sizeof(frame), &len) == 0) {
			emit(&o, "%s\"", n++ ? "," : "");
			emit_hex(&o, frame, len < sizeof(frame) ? len : sizeof(frame));
			emit(&o, "\"");
		}
		emit(&o, "],\"left\":%u}", v->fifo_count);
	} else if (strcmp(cmd, "hold") == 0) {
		hold(nic, vf);
		emit_vf(&o, nic, vf);
	} else if (strcmp(cmd, "announce") == 0) {
		emit(&o, "{\"vf\":%u,\"announced\":%s}", vf, announce(nic, vf) < 0 ? "false" : "true");
	} else if (strcmp(cmd, "inject") == 0) {
		/* A frame the migration carried here: received by the VF as if
		 * it had come from the wire. */
		const char *hex = strtok_r(NULL, " \t\r\n", &save);
		static uint8_t frame[CTL_LINE_MAX / 2];
		size_t len = hex ? strlen(hex) / 2 : 0;
		bool ok = hex && strlen(hex) % 2 == 0 && len >= 14 && len <= sizeof(frame) &&
			  hex_decode(frame, hex, len) == 0;
		if (!ok) {
			emit(&o, "{\"error\":\"inject: the frame must be 14..%u bytes of hex\"}", (unsigned)sizeof(frame));
		} else {
			nic_vf_receive(&nic->slot[vf].vf, frame, len, false);
			vf_rx_drain(&nic->slot[vf].vf);
			emit(&o, "{\"vf\":%u,\"injected\":%zu}", vf, len);
		}
	} else {
		emit(&o, "{\"error\":\"unknown command '%.40s'\"}", cmd);
	}
}

static void client_close(struct ctl_client *c)
{
	c->nic->ctl_clients--;
	evloop_remove(c->nic->loop, c->fd);
	close(c->fd);
	free(c);
}

static void client_readable(void *opaque, uint32_t events)
{
	struct ctl_client *c = opaque;
	char buf[1024], *reply = c->reply;

	(void)events;
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (c->len + 1 < sizeof(c->line))
				c->line[c->len++] = buf[i];
			else
				c->overflow = true;
			continue;
		}
		c->line[c->len] = '\0';
		if (c->overflow)
			snprintf(reply, sizeof(c->reply), "{\"error\":\"line longer than %d bytes\"}", CTL_LINE_MAX - 1);
		else
			pf_ctl_execute(c->nic, c->line, reply, sizeof(c->reply) - 1);
		size_t len = strlen(reply);
		reply[len++] = '\n';
		/* A client that does not read its replies is dropped, not
		 * waited for: the event loop serves the VFs too. */
		if (send(c->fd, reply, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
			client_close(c);
			return;
		}
		c->len = 0;
		c->overflow = false;
	}
}

static void listener_readable(void *opaque, uint32_t events)
{
	struct nic *nic = opaque;

	(void)events;
	/* pf.sock assigns VFs and their MACs: only a trusted peer is served
	 * (the owner's uid, root or the configured group; unix_sock.h). */
	int fd = unix_sock_accept(nic->ctl_listen_fd, 0, "pf.sock", &nic->ctl_refused_log);
	if (fd < 0)
		return;
	if (nic->ctl_clients >= CTL_MAX_CLIENTS) {
		char busy[64];
		uint64_t suppressed;
		int n = snprintf(busy, sizeof(busy), "{\"error\":\"too many clients (at most %d)\"}\n",
				 CTL_MAX_CLIENTS);
		if (send(fd, busy, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			log_debug("pf.sock: %s", strerror(errno));
		if (ratelimit_pass(&nic->ctl_refused_log, &suppressed))
			log_warn("pf.sock: refused a client: %d connected already", CTL_MAX_CLIENTS);
		close(fd);
		return;
	}
	struct ctl_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->nic = nic;
	if (evloop_add(nic->loop, fd, EPOLLIN, client_readable, c) < 0) {
		close(fd);
		free(c);
		return;
	}
	nic->ctl_clients++;
}

int pf_ctl_listen(struct nic *nic, const char *path, char *err, size_t err_len)
{
	int fd = unix_sock_listen(path, CTL_MAX_CLIENTS, 0, UNIX_SOCK_PRIVATE, err, err_len);

	if (fd < 0)
		return fd;
	nic->ctl_listen_fd = fd;
	return evloop_add(nic->loop, fd, EPOLLIN, listener_readable, nic);
}

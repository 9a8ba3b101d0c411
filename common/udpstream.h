/* The UDP sequence stream shared by the guest's udpsource/udpsink/echo apps
 * and the host tool compsc-peer. Freestanding (no libc).
 *
 * Every datagram starts with this 24-byte header, all fields big-endian
 * (network order); the rest of the datagram is padding up to the chosen size:
 *
 *   0       4       8               16              24
 *   +-------+-------+---------------+---------------+--------- - -
 *   | magic | flags |      seq      |    send_us    | padding
 *   +-------+-------+---------------+---------------+--------- - -
 *
 *   magic    CSC_UDPSTREAM_MAGIC ("CSSQ")
 *   flags    bit 0: last datagram of the stream
 *   seq      0, 1, 2, ... per stream (64-bit: never wraps in practice; the
 *            receiver's accounting still copes with gaps of any size)
 *   send_us  sender's clock in microseconds (informational)
 *
 * An echo returns each datagram unchanged, so the receiver of the echo sees
 * the sender's own sequence numbers.
 */
#ifndef CSC_COMMON_UDPSTREAM_H
#define CSC_COMMON_UDPSTREAM_H

#include <stdint.h>

#define CSC_UDPSTREAM_MAGIC	0x43535351u
#define CSC_UDPSTREAM_HDR_LEN	24
#define CSC_UDPSTREAM_F_LAST	1u
#define CSC_UDPSTREAM_SINK_PORT	5555	/* guest udpsink listens here */
#define CSC_UDPSTREAM_ECHO_PORT	7	/* guest echo (UDP and TCP) */

struct csc_udpstream_hdr {
	uint32_t magic;
	uint32_t flags;
	uint64_t seq;
	uint64_t send_us;
};

static inline void csc_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static inline uint32_t csc_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void csc_udpstream_encode(uint8_t *p, const struct csc_udpstream_hdr *h)
{
	csc_put_be32(p, h->magic);
	csc_put_be32(p + 4, h->flags);
	csc_put_be32(p + 8, (uint32_t)(h->seq >> 32));
	csc_put_be32(p + 12, (uint32_t)h->seq);
	csc_put_be32(p + 16, (uint32_t)(h->send_us >> 32));
	csc_put_be32(p + 20, (uint32_t)h->send_us);
}

/* 0 if the bytes are a stream datagram, -1 otherwise. */
static inline int csc_udpstream_decode(const uint8_t *p, uint32_t len, struct csc_udpstream_hdr *h)
{
	if (len < CSC_UDPSTREAM_HDR_LEN || csc_get_be32(p) != CSC_UDPSTREAM_MAGIC)
		return -1;
	h->magic = CSC_UDPSTREAM_MAGIC;
	h->flags = csc_get_be32(p + 4);
	h->seq = (uint64_t)csc_get_be32(p + 8) << 32 | csc_get_be32(p + 12);
	h->send_us = (uint64_t)csc_get_be32(p + 16) << 32 | csc_get_be32(p + 20);
	return 0;
}

#endif

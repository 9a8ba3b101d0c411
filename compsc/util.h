/* Small helpers shared by the CompSC core's .c files: byte copies,
 * little-endian loads and stores, and an error-message builder.
 *
 * Internal, not part of the core's API. The core is compiled into the
 * freestanding guest (no libc) as well as into the host programs, so it
 * brings these few helpers itself instead of calling memcpy or snprintf. */
#ifndef CSC_CORE_UTIL_H
#define CSC_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The shared area, the recorded state and the held-frame blob are defined
 * as little-endian. Guest and host are both x86-64, so the structs are
 * used in place; a big-endian port would have to convert field by field. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the CompSC core assumes a little-endian CPU (the shared formats are little-endian)"
#endif

static inline void csc_copy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
}

static inline void csc_zero(void *dst, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = 0;
}

/* Byte-wise so that a blob at any alignment can be read: hostile input
 * does not get to choose an unaligned access. */
static inline uint16_t csc_ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t csc_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t csc_ld64(const uint8_t *p)
{
	return (uint64_t)csc_ld32(p) | (uint64_t)csc_ld32(p + 4) << 32;
}

static inline void csc_st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void csc_st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void csc_st64(uint8_t *p, uint64_t v)
{
	csc_st32(p, (uint32_t)v);
	csc_st32(p + 4, (uint32_t)(v >> 32));
}

/* Error-message builder: appends to a caller's buffer, always
 * NUL-terminated, silently truncated. err may be NULL (no message). */
struct csc_msg {
	char *buf;
	size_t cap;
	size_t len;
};

void csc_msg_init(struct csc_msg *m, char *buf, size_t cap);
void csc_msg_str(struct csc_msg *m, const char *s);
void csc_msg_dec(struct csc_msg *m, uint64_t v);
void csc_msg_hex(struct csc_msg *m, uint64_t v);	/* 0x... */

#endif

/* Bytes as lowercase hex and back: how pf.sock carries frames (take,
 * inject). By table, not printf/scanf per byte: a held frame crosses the
 * socket inside a migration's downtime. */
#ifndef CSC_COMMON_HEX_H
#define CSC_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2 * len characters (no terminator) to out. */
static inline void hex_encode(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

static inline int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes 2 * len characters of in into len bytes; -1 at the first
 * character that is not a hex digit, else 0. */
static inline int hex_decode(uint8_t *out, const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

#endif

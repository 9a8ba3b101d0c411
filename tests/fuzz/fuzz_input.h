/* A cursor over a fuzzer's input, for the harnesses that read it as a
 * little program of operations. Reads past the end return zeros and set
 * `end`, so a harness never needs a length check of its own; it stops at
 * the next operation boundary. */
#ifndef CSC_FUZZ_INPUT_H
#define CSC_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_in {
	const uint8_t *p;
	size_t len, pos;
	bool end;
};

static inline void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t len)
{
	*in = (struct fuzz_in){ .p = data, .len = len };
}

static inline size_t fuzz_left(const struct fuzz_in *in)
{
	return in->len - in->pos;
}

/* Copies n bytes (zero-filled past the end); returns how many were real. */
static inline size_t fuzz_bytes(struct fuzz_in *in, void *out, size_t n)
{
	size_t have = fuzz_left(in) < n ? fuzz_left(in) : n;

	memcpy(out, in->p + in->pos, have);
	memset((uint8_t *)out + have, 0, n - have);
	in->pos += have;
	if (have < n)
		in->end = true;
	return have;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;
	fuzz_bytes(in, &v, 1);
	return v;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint8_t b[2];
	fuzz_bytes(in, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint8_t b[4];
	fuzz_bytes(in, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t lo = fuzz_u32(in);
	return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* A harness's own invariant failed: a crash libFuzzer reports and saves.
 * Written to fd 2 directly: stdio's stderr may be muted (below). */
#define FUZZ_CHECK(cond)                                                                        \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			dprintf(2, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                \
		}                                                                               \
	} while (0)

/* The code under test logs through stdio's stderr at every level (so each
 * message is still formatted, hostile strings included), but a fuzzer
 * running 10^5 inputs a second must not print them: stderr points at
 * /dev/null while an input runs. Sanitizer reports and libFuzzer's own
 * output use fd 2 or their own FILE and are unaffected. FUZZ_VERBOSE=1
 * in the environment keeps the messages. */
static FILE *fuzz_saved_stderr, *fuzz_null;

static inline void fuzz_mute(void)
{
	if (!fuzz_null && !getenv("FUZZ_VERBOSE"))
		fuzz_null = fopen("/dev/null", "w");
	if (fuzz_null) {
		fuzz_saved_stderr = stderr;
		stderr = fuzz_null;
	}
}

static inline void fuzz_unmute(void)
{
	if (fuzz_saved_stderr) {
		stderr = fuzz_saved_stderr;
		fuzz_saved_stderr = NULL;
	}
}

#endif

/* app=compute [steps=N] [report-ms=M]: a long computation whose whole
 * state lives in registers, for checking that a paused, migrated or
 * resumed vCPU goes on exactly where it stopped.
 *
 * Eight 64-bit words are mixed at every step (multiply, rotate, xor, add,
 * no memory traffic in the inner loop); the result after N steps is a
 * function of N alone. A register lost or stale across a pause or a
 * migration, in either accelerator, gives a different result. Progress
 * lines between blocks of steps make hypercalls/exits mid-computation. */
#include "apps.h"
#include "guest/rt.h"

#define BLOCK (1u << 22)

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

int app_compute(void)
{
	uint64_t steps = cmdline_get_u64("steps", 1ull << 31);
	uint64_t report = cmdline_get_u64("report-ms", 500), next = clock_ms() + report;
	uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
	uint64_t done = 0;

	printf("compute: %llu steps\n", (unsigned long long)steps);
	while (done < steps) {
		uint64_t n = steps - done < BLOCK ? steps - done : BLOCK;
		for (uint64_t i = 0; i < n; i++) {
			a = a * 0x9E3779B97F4A7C15ull + h;
			b = rotl(b ^ a, 13) + g;
			c = c * 0xD6E8FEB86659FD93ull ^ b;
			d = rotl(d + c, 29) ^ f;
			e += d ^ (e >> 7);
			f = rotl(f ^ e, 41) + i;
			g ^= f * 0x94D049BB133111EBull;
			h = rotl(h + g, 17) ^ a;
		}
		done += n;
		if (report && clock_ms() >= next) {
			printf("compute: %llu steps done\n", (unsigned long long)done);
			next += report;
		}
	}
	printf("compute: result %016llx after %llu steps\n",
	       (unsigned long long)(a ^ b ^ c ^ d ^ e ^ f ^ g ^ h), (unsigned long long)steps);
	return 0;
}

/* Command-line lookup over rt_bootinfo->cmdline ("key=value key2 ..."). */
#include "guest/rt.h"
#include "guest/string.h"

bool cmdline_get(const char *key, char *buf, size_t size)
{
	const char *p = rt_bootinfo->cmdline;
	size_t klen = strlen(key);

	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		size_t tlen = (size_t)(p - tok);
		if (tlen >= klen && strncmp(tok, key, klen) == 0 && (tlen == klen || tok[klen] == '=')) {
			const char *v = tlen == klen ? tok + klen : tok + klen + 1;
			size_t vlen = (size_t)(p - v);
			if (size) {
				if (vlen >= size)
					vlen = size - 1;
				memcpy(buf, v, vlen);
				buf[vlen] = '\0';
			}
			return true;
		}
	}
	return false;
}

uint64_t cmdline_get_u64(const char *key, uint64_t fallback)
{
	char buf[32];
	unsigned long long v;

	if (!cmdline_get(key, buf, sizeof(buf)) || parse_u64(buf, &v) == 0)
		return fallback;
	return v;
}

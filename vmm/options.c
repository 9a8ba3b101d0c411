#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/mac.h"

int parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] != '\0' && !((end[1] == 'i' || end[1] == 'B') && end[2] == '\0') &&
	    !(end[1] == 'i' && end[2] == 'B' && end[3] == '\0'))
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int virtio_net_parse(const char *spec, struct virtio_net_opts *o, char *err, size_t err_len)
{
	memset(o, 0, sizeof(*o));
	if (strncmp(spec, "tap:", 4) != 0) {
		snprintf(err, err_len, "'%s': expected tap:NAME[,mac=MAC]", spec);
		return -EINVAL;
	}
	const char *name = spec + 4, *comma = strchr(name, ',');
	size_t len = comma ? (size_t)(comma - name) : strlen(name);
	if (len == 0 || len >= sizeof(o->tap) || memchr(name, '/', len)) {
		snprintf(err, err_len, "'%s': the TAP name must have 1 to %zu characters", spec, sizeof(o->tap) - 1);
		return -EINVAL;
	}
	memcpy(o->tap, name, len);
	while (comma) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t olen = comma ? (size_t)(comma - opt) : strlen(opt);
		char buf[64];
		if (olen >= sizeof(buf)) {
			snprintf(err, err_len, "'%s': option too long", spec);
			return -EINVAL;
		}
		memcpy(buf, opt, olen);
		buf[olen] = '\0';
		if (strncmp(buf, "mac=", 4) == 0 && mac_parse(buf + 4, o->mac) == 0 && mac_is_unicast(o->mac)) {
			o->has_mac = 1;
		} else {
			snprintf(err, err_len, "'%s': bad option '%s' (mac=xx:xx:xx:xx:xx:xx, unicast)", spec, buf);
			return -EINVAL;
		}
	}
	return 0;
}

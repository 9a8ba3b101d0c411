#include "pf_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/unix_sock.h"

#define PF_REPLY_MAX (128u << 10)
#define PF_TIMEOUT_MS 2000

json_t *pf_call(const char *pf_path, const char *line, char *err, size_t errlen)
{
	char why[256];
	int fd = unix_sock_connect(pf_path, why, sizeof(why));
	char *buf = NULL;
	size_t len = 0;
	json_t *reply = NULL;

	if (fd < 0) {
		snprintf(err, errlen, "%s", why);
		return NULL;
	}
	size_t n = strlen(line);
	if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		snprintf(err, errlen, "%s: send: %s", pf_path, strerror(errno));
		goto out;
	}
	buf = malloc(PF_REPLY_MAX);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	uint64_t deadline = now_ns() + PF_TIMEOUT_MS * 1000000ull;
	while (!memchr(buf, '\n', len)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0) {
			snprintf(err, errlen, "%s: no reply to '%.20s' within %d ms", pf_path, line, PF_TIMEOUT_MS);
			goto out;
		}
		ssize_t got = recv(fd, buf + len, PF_REPLY_MAX - 1 - len, 0);
		if (got <= 0 || len + (size_t)got >= PF_REPLY_MAX - 1) {
			snprintf(err, errlen, "%s: %s", pf_path, got <= 0 ? "connection closed" : "reply too long");
			goto out;
		}
		len += (size_t)got;
	}
	json_error_t je;
	reply = json_loadb(buf, (size_t)((char *)memchr(buf, '\n', len) - buf), 0, &je);
	if (!json_is_object(reply)) {
		snprintf(err, errlen, "%s: the reply is not a JSON object", pf_path);
		json_decref(reply);
		reply = NULL;
	} else if (json_is_string(json_object_get(reply, "error"))) {
		snprintf(err, errlen, "%s: %s", pf_path, json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		reply = NULL;
	}
out:
	free(buf);
	close(fd);
	return reply;
}

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

#define PF_REPLY_MAX (128u << 10)	/* one reply line; the NIC's longest is 64 KiB */
#define PF_TIMEOUT_MS 2000

/* One reply line as an object, or NULL with the reason in err. */
static json_t *parse_reply(const char *pf_path, const char *line, const char *text, size_t len, char *err,
			   size_t errlen)
{
	json_error_t je;
	json_t *reply = json_loadb(text, len, 0, &je);

	if (!json_is_object(reply)) {
		snprintf(err, errlen, "%s: the reply to '%.20s' is not a JSON object", pf_path, line);
		json_decref(reply);
		return NULL;
	}
	if (json_is_string(json_object_get(reply, "error"))) {
		snprintf(err, errlen, "%s: %s", pf_path, json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		return NULL;
	}
	return reply;
}

int pf_batch_send(const char *pf_path, const char *const *lines, unsigned n, char *err, size_t errlen)
{
	char why[256], *out = malloc((size_t)n * (PF_LINE_MAX + 1));
	size_t out_len = 0;
	int fd = -1;

	if (!out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		size_t l = strnlen(lines[i], PF_LINE_MAX);
		if (l == PF_LINE_MAX || memchr(lines[i], '\n', l)) {
			snprintf(err, errlen, "%s: command '%.20s' too long or not one line", pf_path, lines[i]);
			goto out;
		}
		memcpy(out + out_len, lines[i], l);
		out_len += l;
		out[out_len++] = '\n';
	}
	if ((fd = unix_sock_connect(pf_path, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (send(fd, out, out_len, MSG_NOSIGNAL) != (ssize_t)out_len) {
		snprintf(err, errlen, "%s: send: %s", pf_path, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	free(out);
	return fd;
}

int pf_batch_recv(int fd, const char *pf_path, const char *const *lines, unsigned n, json_t **replies, char *err,
		  size_t errlen)
{
	char *buf = malloc(PF_REPLY_MAX);
	size_t len = 0;
	unsigned done = 0, ok = 0;

	for (unsigned i = 0; i < n; i++)
		replies[i] = NULL;
	err[0] = '\0';
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The replies come in order, one line each. */
	uint64_t deadline = now_ns() + PF_TIMEOUT_MS * 1000000ull;
	while (done < n) {
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			size_t line_len = (size_t)(nl - buf);
			char one[256];
			replies[done] = parse_reply(pf_path, lines[done], buf, line_len, one, sizeof(one));
			if (replies[done])
				ok++;
			else if (!err[0])
				snprintf(err, errlen, "%s", one);
			memmove(buf, nl + 1, len - line_len - 1);
			len -= line_len + 1;
			done++;
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0) {
			if (!err[0])
				snprintf(err, errlen, "%s: no reply to '%.20s' within %d ms", pf_path, lines[done],
					 PF_TIMEOUT_MS);
			goto out;
		}
		/* No newline in a full buffer: a reply longer than any the NIC sends. */
		if (len == PF_REPLY_MAX) {
			if (!err[0])
				snprintf(err, errlen, "%s: reply to '%.20s' too long", pf_path, lines[done]);
			goto out;
		}
		ssize_t got = recv(fd, buf + len, PF_REPLY_MAX - len, 0);
		if (got <= 0) {
			if (!err[0])
				snprintf(err, errlen, "%s: connection closed", pf_path);
			goto out;
		}
		len += (size_t)got;
	}
out:
	free(buf);
	close(fd);
	return done == n && ok == n ? 0 : -1;
}

int pf_call_batch(const char *pf_path, const char *const *lines, unsigned n, json_t **replies, char *err,
		  size_t errlen)
{
	int fd = pf_batch_send(pf_path, lines, n, err, errlen);

	if (fd < 0) {
		for (unsigned i = 0; i < n; i++)
			replies[i] = NULL;
		return -1;
	}
	return pf_batch_recv(fd, pf_path, lines, n, replies, err, errlen);
}

json_t *pf_call(const char *pf_path, const char *line, char *err, size_t errlen)
{
	json_t *reply;

	return pf_call_batch(pf_path, &line, 1, &reply, err, errlen) == 0 ? reply : NULL;
}

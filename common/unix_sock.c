/* Unix-domain socket set-up shared by the host programs (see unix_sock.h). */
#include "unix_sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int unix_sock_addr(struct sockaddr_un *addr, const char *path)
{
	size_t len = strlen(path);

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (len >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;	/* never truncate: it would name another file */
	memcpy(addr->sun_path, path, len + 1);
	return 0;
}

int unix_sock_bind(const char *path, int type)
{
	struct sockaddr_un addr;
	int ret = unix_sock_addr(&addr, path);

	if (ret < 0)
		return ret;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int failed(int ret, const char *what, const char *path, char *err, size_t err_len)
{
	if (!err || !err_len)
		return ret;
	if (ret == -ENAMETOOLONG)
		snprintf(err, err_len, "socket path %s is too long", path);
	else
		snprintf(err, err_len, "cannot %s %s: %s", what, path, strerror(-ret));
	return ret;
}

int unix_sock_listen(const char *path, int backlog, int flags, char *err, size_t err_len)
{
	int fd = unix_sock_bind(path, SOCK_STREAM | flags);

	if (fd < 0)
		return failed(fd, "listen on", path, err, err_len);
	if (listen(fd, backlog) < 0) {
		int ret = -errno;
		close(fd);
		unlink(path);
		return failed(ret, "listen on", path, err, err_len);
	}
	return fd;
}

int unix_sock_connect(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un addr;
	int ret = unix_sock_addr(&addr, path);

	if (ret < 0)
		return failed(ret, "connect to", path, err, err_len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return failed(-errno, "connect to", path, err, err_len);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		close(fd);
		return failed(ret, "connect to", path, err, err_len);
	}
	return fd;
}

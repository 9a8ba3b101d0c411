/* Unix-domain socket set-up shared by the host programs (see unix_sock.h). */
#include "unix_sock.h"

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59	/* Linux 4.13; older libc headers lack the name */
#endif

int unix_sock_group(gid_t *gid, char *err, size_t err_len)
{
	const char *name = getenv(UNIX_SOCK_GROUP_ENV);

	if (!name || !*name)
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && !*end && !errno && n < (unsigned long)(gid_t)-1) {
		*gid = (gid_t)n;
		return 1;
	}
	/* getgrnam_r, not getgrnam: the VMM accepts on one thread while
	 * others run. A group with many members needs a larger buffer. */
	struct group gr, *found = NULL;
	int ret = ERANGE;
	for (size_t size = 4096; ret == ERANGE && size <= (1u << 20); size *= 4) {
		char *buf = malloc(size);
		if (!buf) {
			ret = ENOMEM;
			break;
		}
		ret = getgrnam_r(name, &gr, buf, size, &found);
		if (found)
			*gid = gr.gr_gid;
		free(buf);
	}
	if (found)
		return 1;
	if (err && err_len)
		snprintf(err, err_len, "%s: no group '%s'%s%s", UNIX_SOCK_GROUP_ENV, name, ret ? ": " : "",
			 ret ? strerror(ret) : "");
	return -EINVAL;
}

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

int unix_sock_listen(const char *path, int backlog, int flags, enum unix_sock_access access, char *err,
		     size_t err_len)
{
	gid_t gid = 0;
	/* Every listener checks its peers against the group: a misspelt one
	 * is reported now, not at the first refused connection. */
	int shared = unix_sock_group(&gid, err, err_len);

	if (shared < 0)
		return shared;
	shared = shared && access == UNIX_SOCK_GROUP;
	int fd = unix_sock_bind(path, SOCK_STREAM | flags);
	if (fd < 0)
		return failed(fd, "listen on", path, err, err_len);
	/* bind() made the file with whatever the umask allows; the mode is
	 * narrowed before listen(), and until listen() every connect() is
	 * refused whatever the mode: nobody gets in through the gap. */
	const char *what = "listen on";
	int ret = 0;
	if (shared && chown(path, (uid_t)-1, gid) < 0) {
		ret = -errno;
		what = "give the group of " UNIX_SOCK_GROUP_ENV " to";
	} else if (chmod(path, shared ? 0660 : 0600) < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
	}
	if (ret < 0) {
		close(fd);
		unlink(path);
		return failed(ret, what, path, err, err_len);
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

/* The peer's groups as the kernel recorded them: its gid, then its
 * supplementary groups (SO_PEERGROUPS). Unreadable groups count as no
 * match: the check fails closed. */
static bool peer_in_group(int fd, const struct ucred *cred, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool member = cred->gid == gid;

	if (member)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t) && !member; i++)
		member = groups[i] == gid;
	if (groups != small)
		free(groups);
	return member;
}

int unix_sock_peer_check(int fd, char *why, size_t why_len)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char scratch[1], group_err[256];

	if (!why || !why_len) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
		int ret = len != sizeof(cred) ? -EPROTO : -errno;
		snprintf(why, why_len, "cannot read the peer's credentials: %s", strerror(-ret));
		return ret;
	}
	uid_t self = geteuid();
	if (cred.uid == self || cred.uid == 0)
		return 0;
	gid_t gid;
	int shared = unix_sock_group(&gid, group_err, sizeof(group_err));
	if (shared < 0) {
		snprintf(why, why_len, "%s", group_err);
		return shared;
	}
	if (shared && peer_in_group(fd, &cred, gid))
		return 0;
	if (shared)
		snprintf(why, why_len, "uid %u gid %u (pid %d) is not this user (uid %u), root or in group %s (%s)",
			 (unsigned)cred.uid, (unsigned)cred.gid, (int)cred.pid, (unsigned)self,
			 getenv(UNIX_SOCK_GROUP_ENV), UNIX_SOCK_GROUP_ENV);
	else
		snprintf(why, why_len, "uid %u gid %u (pid %d) is neither this user (uid %u) nor root (%s unset)",
			 (unsigned)cred.uid, (unsigned)cred.gid, (int)cred.pid, (unsigned)self, UNIX_SOCK_GROUP_ENV);
	return -EACCES;
}

int unix_sock_accept(int listen_fd, int flags, const char *what, struct ratelimit *rl)
{
	char why[320];
	uint64_t suppressed = 0;
	int fd = accept4(listen_fd, NULL, NULL, flags | SOCK_CLOEXEC);

	if (fd < 0)
		return -errno;
	int ret = unix_sock_peer_check(fd, why, sizeof(why));
	if (ret == 0)
		return fd;
	/* Not a word to the peer: it learns nothing but that it was closed. */
	close(fd);
	if (!rl || ratelimit_pass(rl, &suppressed)) {
		if (suppressed)
			log_warn("%s: refused a connection: %s (%llu more refused since the last message)", what, why,
				 (unsigned long long)suppressed);
		else
			log_warn("%s: refused a connection: %s", what, why);
	}
	return ret;
}

/* The unix-socket helpers of common/: listen over a stale file, connect,
 * datagram bind, paths that do not fit, the socket file's mode, and the
 * peer check at both ends (another user is played by a child process that
 * drops to uid 65534, so those tests need root and skip without it). */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../common/unix_sock.h"

#define OTHER_ID 65534u	/* nobody / nogroup */

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/csc-unix-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_listen_connect(void **state)
{
	char err[256];
	(void)state;

	/* A leftover file of an earlier run does not stop the listener. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	int l = unix_sock_listen(path, 4, SOCK_NONBLOCK, UNIX_SOCK_PRIVATE, err, sizeof(err));
	assert_true(l >= 0);
	int c = unix_sock_connect(path, err, sizeof(err));
	assert_true(c >= 0);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(c, "hi", 2), 2);
	char buf[2];
	assert_int_equal(read(a, buf, 2), 2);
	assert_memory_equal(buf, "hi", 2);
	close(a);
	close(c);
	close(l);
	unlink(path);
	/* Nobody listening: the errno and a message naming the path. */
	assert_int_equal(unix_sock_connect(path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(unix_sock_connect(path, NULL, 0), -ENOENT);
}

static void test_dgram(void **state)
{
	struct sockaddr_un addr;
	(void)state;

	int r = unix_sock_bind(path, SOCK_DGRAM | SOCK_NONBLOCK);
	assert_true(r >= 0);
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(unix_sock_addr(&addr, path), 0);
	assert_int_equal(sendto(s, "frame", 5, 0, (struct sockaddr *)&addr, sizeof(addr)), 5);
	char buf[8];
	assert_int_equal(recv(r, buf, sizeof(buf), 0), 5);
	assert_int_equal(recv(r, buf, sizeof(buf), 0), -1);	/* non-blocking as asked */
	close(s);
	close(r);
}

static void test_too_long(void **state)
{
	struct sockaddr_un addr;
	char longp[sizeof(addr.sun_path) + 16], err[512];
	(void)state;

	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(unix_sock_addr(&addr, longp), -ENAMETOOLONG);
	assert_int_equal(unix_sock_listen(longp, 1, 0, UNIX_SOCK_PRIVATE, err, sizeof(err)), -ENAMETOOLONG);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(unix_sock_connect(longp, err, sizeof(err)), -ENAMETOOLONG);
	assert_int_equal(unix_sock_bind(longp, SOCK_DGRAM), -ENAMETOOLONG);
	/* The longest path that fits still works. */
	longp[sizeof(addr.sun_path) - 1] = '\0';
	assert_int_equal(unix_sock_addr(&addr, longp), 0);
}

static void test_group_env(void **state)
{
	char err[256];
	gid_t gid = 1;
	(void)state;

	unsetenv(UNIX_SOCK_GROUP_ENV);
	assert_int_equal(unix_sock_group(&gid, err, sizeof(err)), 0);
	setenv(UNIX_SOCK_GROUP_ENV, "", 1);
	assert_int_equal(unix_sock_group(&gid, err, sizeof(err)), 0);
	setenv(UNIX_SOCK_GROUP_ENV, "4242", 1);
	assert_int_equal(unix_sock_group(&gid, err, sizeof(err)), 1);
	assert_int_equal(gid, 4242);
	struct group *root = getgrgid(0);
	if (root) {
		setenv(UNIX_SOCK_GROUP_ENV, root->gr_name, 1);
		assert_int_equal(unix_sock_group(&gid, err, sizeof(err)), 1);
		assert_int_equal(gid, 0);
	}
	setenv(UNIX_SOCK_GROUP_ENV, "no-such-group-csc", 1);
	assert_int_equal(unix_sock_group(&gid, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "COMPSC_SOCKET_GROUP: no group 'no-such-group-csc'"));
	setenv(UNIX_SOCK_GROUP_ENV, "12abc", 1);
	assert_int_equal(unix_sock_group(&gid, NULL, 0), -EINVAL);
	unsetenv(UNIX_SOCK_GROUP_ENV);
}

static void test_listen_mode(void **state)
{
	char err[256];
	struct stat st;
	(void)state;

	/* Whatever the umask would allow, the file is 0600... */
	mode_t old = umask(0);
	unsetenv(UNIX_SOCK_GROUP_ENV);
	int l = unix_sock_listen(path, 4, 0, UNIX_SOCK_PRIVATE, err, sizeof(err));
	assert_true(l >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(l);
	/* ... also when the group is asked for but none is configured ... */
	l = unix_sock_listen(path, 4, 0, UNIX_SOCK_GROUP, err, sizeof(err));
	assert_true(l >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(l);
	/* ... 0660 and the group's when it is (our own group: no root needed) ... */
	char own[16];
	snprintf(own, sizeof(own), "%u", (unsigned)getegid());
	setenv(UNIX_SOCK_GROUP_ENV, own, 1);
	l = unix_sock_listen(path, 4, 0, UNIX_SOCK_GROUP, err, sizeof(err));
	assert_true(l >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getegid());
	close(l);
	/* ... and a control socket stays 0600 even then. */
	l = unix_sock_listen(path, 4, 0, UNIX_SOCK_PRIVATE, err, sizeof(err));
	assert_true(l >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(l);
	unlink(path);
	/* A group that does not exist: refused, no socket left behind. */
	setenv(UNIX_SOCK_GROUP_ENV, "no-such-group-csc", 1);
	assert_int_equal(unix_sock_listen(path, 4, 0, UNIX_SOCK_GROUP, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no-such-group-csc"));
	assert_int_equal(access(path, F_OK), -1);
	/* Also for a control socket, whose peer checks would consult it. */
	assert_int_equal(unix_sock_listen(path, 4, 0, UNIX_SOCK_PRIVATE, err, sizeof(err)), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	unsetenv(UNIX_SOCK_GROUP_ENV);
	umask(old);
}

static void test_peer_same_user(void **state)
{
	char err[256], why[320];
	(void)state;

	unsetenv(UNIX_SOCK_GROUP_ENV);
	int l = unix_sock_listen(path, 4, 0, UNIX_SOCK_PRIVATE, err, sizeof(err));
	assert_true(l >= 0);
	int c = unix_sock_connect(path, err, sizeof(err));
	assert_true(c >= 0);
	int a = unix_sock_accept(l, SOCK_NONBLOCK, "test", NULL);
	assert_true(a >= 0);
	assert_int_equal(unix_sock_peer_check(a, why, sizeof(why)), 0);	/* server's view */
	assert_int_equal(unix_sock_peer_check(c, why, sizeof(why)), 0);	/* client's view */
	assert_int_equal(unix_sock_peer_check(c, NULL, 0), 0);
	close(a);
	close(c);
	/* Nothing pending: accept's own error. */
	close(l);
	l = unix_sock_listen(path, 4, SOCK_NONBLOCK, UNIX_SOCK_PRIVATE, err, sizeof(err));
	assert_int_equal(unix_sock_accept(l, 0, "test", NULL), -EAGAIN);
	close(l);
	/* Not a socket: the credentials cannot be read. */
	assert_true(unix_sock_peer_check(STDIN_FILENO, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, "credentials"));
}

/* ---- another user: a child that drops to uid 65534 ------------------------------ */

static struct sockaddr_un abstract;
static socklen_t abstract_len;

/* An address in the abstract namespace: no file, so no file mode stands
 * between the other user and us; only the peer check does. */
static void abstract_addr(void)
{
	static unsigned n;

	memset(&abstract, 0, sizeof(abstract));
	abstract.sun_family = AF_UNIX;
	int len = snprintf(abstract.sun_path + 1, sizeof(abstract.sun_path) - 1, "csc-unix-test-%d-%u", (int)getpid(),
			   n++);
	abstract_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
}

/* Forks a process running as uid/gid OTHER_ID with supplementary group
 * `extra` (0: none) that listens at (listen_side) or connects to the
 * abstract address, says so on a pipe and waits to be killed. */
static pid_t other_user(bool listen_side, gid_t extra)
{
	int ready[2];

	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (setgroups(extra ? 1 : 0, &extra) < 0 || setgid(OTHER_ID) < 0 || setuid(OTHER_ID) < 0)
			_exit(1);
		if (listen_side ? bind(s, (struct sockaddr *)&abstract, abstract_len) < 0 || listen(s, 1) < 0
				: connect(s, (struct sockaddr *)&abstract, abstract_len) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int listen_abstract(void)
{
	int l = socket(AF_UNIX, SOCK_STREAM, 0);

	abstract_addr();
	assert_int_equal(bind(l, (struct sockaddr *)&abstract, abstract_len), 0);
	assert_int_equal(listen(l, 4), 0);
	return l;
}

static void test_peer_other_user_server_side(void **state)
{
	char why[320];
	(void)state;

	if (geteuid() != 0)
		skip();
	unsetenv(UNIX_SOCK_GROUP_ENV);
	int l = listen_abstract();
	pid_t child = other_user(false, 0);
	int a = accept(l, NULL, NULL);
	assert_int_equal(unix_sock_peer_check(a, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "uid 65534 gid 65534"));
	assert_non_null(strstr(why, "neither this user (uid 0) nor root"));
	close(a);
	reap(child);

	/* Its gid is the configured group: trusted. */
	setenv(UNIX_SOCK_GROUP_ENV, "65534", 1);
	child = other_user(false, 0);
	a = accept(l, NULL, NULL);
	assert_int_equal(unix_sock_peer_check(a, why, sizeof(why)), 0);
	close(a);
	reap(child);

	/* A supplementary group is the configured one: trusted (SO_PEERGROUPS). */
	setenv(UNIX_SOCK_GROUP_ENV, "4242", 1);
	child = other_user(false, 4242);
	a = accept(l, NULL, NULL);
	assert_int_equal(unix_sock_peer_check(a, why, sizeof(why)), 0);
	close(a);
	reap(child);

	/* Another group: refused, and the message names the group. */
	child = other_user(false, 4243);
	a = accept(l, NULL, NULL);
	assert_int_equal(unix_sock_peer_check(a, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "root or in group 4242"));
	close(a);
	reap(child);

	/* A group that does not exist: nobody but us and root (fails closed). */
	setenv(UNIX_SOCK_GROUP_ENV, "no-such-group-csc", 1);
	child = other_user(false, 0);
	a = accept(l, NULL, NULL);
	assert_int_equal(unix_sock_peer_check(a, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no-such-group-csc"));
	close(a);
	reap(child);
	unsetenv(UNIX_SOCK_GROUP_ENV);
	close(l);
}

static void test_peer_other_user_client_side(void **state)
{
	char why[320];
	(void)state;

	if (geteuid() != 0)
		skip();
	/* The VMM's view: the process that listens is another user. */
	unsetenv(UNIX_SOCK_GROUP_ENV);
	abstract_addr();
	pid_t child = other_user(true, 0);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&abstract, abstract_len), 0);
	assert_int_equal(unix_sock_peer_check(c, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "uid 65534"));
	close(c);
	reap(child);
}

static void test_accept_refuses_and_rate_limits(void **state)
{
	struct ratelimit rl = RATELIMIT_INIT(1);
	char log[4096];
	(void)state;

	if (geteuid() != 0)
		skip();
	unsetenv(UNIX_SOCK_GROUP_ENV);
	int l = listen_abstract();
	/* The log goes to stderr: catch it in a file for the duration. */
	FILE *capture = tmpfile();
	assert_non_null(capture);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(capture), STDERR_FILENO);
	for (int i = 0; i < 3; i++) {
		pid_t child = other_user(false, 0);
		assert_int_equal(unix_sock_accept(l, 0, "test.sock", &rl), -EACCES);
		reap(child);
	}
	/* The one connection of our own that follows is served. */
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&abstract, abstract_len), 0);
	int a = unix_sock_accept(l, 0, "test.sock", &rl);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_true(a >= 0);
	close(a);
	close(c);
	close(l);
	rewind(capture);
	size_t n = fread(log, 1, sizeof(log) - 1, capture);
	log[n] = '\0';
	fclose(capture);
	/* Three refused, one logged: the limit is one a second. */
	const char *first = strstr(log, "test.sock: refused a connection: uid 65534");
	assert_non_null(first);
	assert_null(strstr(first + strlen("test.sock: refused"), "refused"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dgram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test(test_group_env),
		cmocka_unit_test_setup_teardown(test_listen_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_same_user, setup, teardown),
		cmocka_unit_test(test_peer_other_user_server_side),
		cmocka_unit_test(test_peer_other_user_client_side),
		cmocka_unit_test(test_accept_refuses_and_rate_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

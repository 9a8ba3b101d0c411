/* The unix-socket helpers of common/: listen over a stale file, connect,
 * datagram bind, and paths that do not fit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/unix_sock.h"

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
	int l = unix_sock_listen(path, 4, SOCK_NONBLOCK, err, sizeof(err));
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
	assert_int_equal(unix_sock_listen(longp, 1, 0, err, sizeof(err)), -ENAMETOOLONG);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(unix_sock_connect(longp, err, sizeof(err)), -ENAMETOOLONG);
	assert_int_equal(unix_sock_bind(longp, SOCK_DGRAM), -ENAMETOOLONG);
	/* The longest path that fits still works. */
	longp[sizeof(addr.sun_path) - 1] = '\0';
	assert_int_equal(unix_sock_addr(&addr, longp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dgram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

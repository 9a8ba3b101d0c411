/* TAP open and link-up (see tap.h). */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(TAP_IFNAMSIZ == IFNAMSIZ, "tap.h names the kernel's IFNAMSIZ");

static int ifr_name_set(struct ifreq *ifr, const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;	/* never truncate: it would name another device */
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, name, len + 1);
	return 0;
}

int tap_open(const char *name, char *actual)
{
	struct ifreq ifr;
	int ret = ifr_name_set(&ifr, name);

	if (ret < 0)
		return ret;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (actual) {
		memcpy(actual, ifr.ifr_name, IFNAMSIZ);
		actual[IFNAMSIZ - 1] = '\0';
	}
	return fd;
}

int tap_set_up(const char *name)
{
	struct ifreq ifr;
	int ret = ifr_name_set(&ifr, name);

	if (ret < 0)
		return ret;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
		ret = -errno;
	close(s);
	return ret;
}

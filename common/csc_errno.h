/* errno values for code shared by the hosted VMM and the freestanding guest.
 * The guest has no libc, so it gets the Linux numbers directly. */
#ifndef CSC_COMMON_ERRNO_H
#define CSC_COMMON_ERRNO_H

#if __STDC_HOSTED__
#include <errno.h>
#else
#define EPERM		1
#define ENOENT		2
#define EIO		5
#define E2BIG		7
#define ENOEXEC		8
#define EBADF		9
#define EAGAIN		11
#define ENOMEM		12
#define EFAULT		14
#define EBUSY		16
#define EEXIST		17
#define ENODEV		19
#define EINVAL		22
#define ENOSPC		28
#define ERANGE		34
#define ENOSYS		38
#define EPROTO		71
#define EOVERFLOW	75
#define ETIMEDOUT	110
#endif

#endif

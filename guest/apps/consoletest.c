/* app=consoletest: exercises the console ring: a line longer than the
 * VMM's line buffer, enough bytes to wrap the ring several times without a
 * newline, and control characters the VMM must neutralise. */
#include "apps.h"
#include "guest/rt.h"
#include "guest/string.h"

int app_consoletest(void)
{
	char chunk[100];

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 30; i++)	/* 3000 bytes, no newline, > 2 ring halves */
		console_write(chunk, sizeof(chunk));
	console_write("\n", 1);
	for (int i = 0; i < 100; i++)	/* 10 KB in lines: wraps the 4 KiB ring */
		printf("line %03d of the wrap test .......................................\n", i);
	printf("bell\aescape\x1b[31m\n");
	printf("consoletest: done\n");
	return 0;
}

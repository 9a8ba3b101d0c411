/* lwIP includes <stdlib.h> for atoi: the guest's libc subset has it. */
#include "guest/string.h"

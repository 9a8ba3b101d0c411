/* lwIP includes <string.h>: the guest's own string functions. */
#include "guest/string.h"

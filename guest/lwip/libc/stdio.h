/* lwIP includes <stdio.h> in places; the guest's printf is in guest/rt.h. */
#include "guest/format.h"

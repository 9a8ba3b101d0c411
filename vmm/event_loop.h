/* The event loop moved to common/ (the NIC uses it too). */
#include "../common/event_loop.h"

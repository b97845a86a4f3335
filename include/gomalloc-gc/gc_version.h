/* gc_version.h: the Boehm version this interface follows (gc.h). */
#include "gc.h"

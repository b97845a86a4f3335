/* gc_config_macros.h: Boehm's configuration macros live in gc.h here. */
#include "gc.h"

/* <gc/gc_config_macros.h>, as Debian's libgc-dev also installs it. */
#include "../gc_config_macros.h"

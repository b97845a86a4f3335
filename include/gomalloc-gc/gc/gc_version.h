/* <gc/gc_version.h>, as Debian's libgc-dev also installs it. */
#include "../gc_version.h"

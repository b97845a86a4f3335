/* <gc/gc_disclaim.h>, as Debian's libgc-dev also installs it. */
#include "../gc_disclaim.h"

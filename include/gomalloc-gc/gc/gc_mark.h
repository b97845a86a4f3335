/* <gc/gc_mark.h>, as Debian's libgc-dev also installs it. */
#include "../gc_mark.h"

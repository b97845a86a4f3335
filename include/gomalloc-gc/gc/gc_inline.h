/* <gc/gc_inline.h>, as Debian's libgc-dev also installs it. */
#include "../gc_inline.h"

/* <gc/gc_allocator.h>, as Debian's libgc-dev also installs it. */
#include "../gc_allocator.h"

/* <gc/gc_cpp.h>, as Debian's libgc-dev also installs it. */
#include "../gc_cpp.h"

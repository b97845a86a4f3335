/* <gc/gc_typed.h>, as Debian's libgc-dev also installs it. */
#include "../gc_typed.h"

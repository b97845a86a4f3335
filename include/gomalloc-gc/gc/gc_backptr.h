/* <gc/gc_backptr.h>, as Debian's libgc-dev also installs it. */
#include "../gc_backptr.h"

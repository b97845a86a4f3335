/* <gc/gc.h>, as Debian's libgc-dev also installs it. */
#include "../gc.h"

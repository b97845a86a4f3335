/* <gc/gc_pthread_redirects.h>, as Debian's libgc-dev also installs it. */
#include "../gc_pthread_redirects.h"

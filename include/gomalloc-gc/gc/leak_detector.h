/* <gc/leak_detector.h>, as Debian's libgc-dev also installs it. */
#include "../leak_detector.h"

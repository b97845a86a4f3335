// gc_cpp.cc: libgomalloc-gccpp, Boehm's libgccpp: the global operator new
// and delete of a program linked with it allocate uncollectable, scanned
// blocks of the collected heap (GC_MALLOC_UNCOLLECTABLE, GC_FREE), so that
// objects made with a plain new keep what they point to alive, and delete
// works on new (NoGC) objects. Link it only into programs that want this
// (pkg-config gomalloc-gccpp); gc_cpp.h alone does not need it.
#include "gc.h"

#include <new>

void *operator new(size_t size) {
  void *p = GC_MALLOC_UNCOLLECTABLE(size);
  if (!p)
    throw std::bad_alloc();
  return p;
}
void *operator new[](size_t size) { return ::operator new(size); }
void *operator new(size_t size, const std::nothrow_t &) noexcept {
  return GC_MALLOC_UNCOLLECTABLE(size);
}
void *operator new[](size_t size, const std::nothrow_t &) noexcept {
  return GC_MALLOC_UNCOLLECTABLE(size);
}
void operator delete(void *p) noexcept { GC_FREE(p); }
void operator delete[](void *p) noexcept { GC_FREE(p); }
void operator delete(void *p, size_t) noexcept { GC_FREE(p); }
void operator delete[](void *p, size_t) noexcept { GC_FREE(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { GC_FREE(p); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { GC_FREE(p); }

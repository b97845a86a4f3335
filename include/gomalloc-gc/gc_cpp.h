/* gc_cpp.h: Boehm's C++ interface, header only. new (GC) T / new (UseGC)
 * collected and scanned, new (PointerFreeGC) collected and not scanned,
 * new (NoGC) uncollectable; classes deriving from gc are collected by
 * default, from gc_cleanup also have their destructor run as a finalizer
 * (GC_register_finalizer_ignore_self) once unreachable. As with Boehm's
 * header, the global operator new is left alone: memory from a plain new is
 * not scanned (Boehm's libgccpp replaces it with uncollectable allocation;
 * gomalloc has no such library). */
#ifndef GOMALLOC_GC_CPP_H
#define GOMALLOC_GC_CPP_H

#include "gc.h"

#include <cstddef>
#include <new>

#ifdef GC_NAMESPACE
#define GC_NS_QUALIFY(T) boehmgc::T
#else
#define GC_NS_QUALIFY(T) T
#endif
#if __cplusplus >= 201103L
#define GC_NOEXCEPT noexcept
#else
#define GC_NOEXCEPT throw()
#endif
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define GC_OP_NEW_OOM_CHECK(obj)                                                                   \
  do {                                                                                             \
    if (!(obj))                                                                                    \
      throw std::bad_alloc();                                                                      \
  } while (0)
#else
#define GC_OP_NEW_OOM_CHECK(obj)                                                                   \
  do {                                                                                             \
    if (!(obj))                                                                                    \
      GC_abort_on_oom();                                                                           \
  } while (0)
#include <cstdlib>
inline void GC_abort_on_oom() { std::abort(); }
#endif

#ifdef GC_NAMESPACE
namespace boehmgc {
#endif

enum GCPlacement {
  UseGC,
#ifndef GC_NAME_CONFLICT
  GC = UseGC,
#endif
  NoGC,
  PointerFreeGC,
  PointerFreeNoGC
};

inline void *gc_alloc_placed(size_t size, GCPlacement gcp) {
  switch (gcp) {
  case UseGC:
    return GC_MALLOC(size);
  case PointerFreeGC:
    return GC_MALLOC_ATOMIC(size);
  case PointerFreeNoGC:
    return GC_MALLOC_ATOMIC_UNCOLLECTABLE(size);
  case NoGC:
  default:
    return GC_MALLOC_UNCOLLECTABLE(size);
  }
}

class gc {
public:
  inline void *operator new(size_t size) {
    void *obj = GC_MALLOC(size);
    GC_OP_NEW_OOM_CHECK(obj);
    return obj;
  }
  inline void *operator new(size_t size, GCPlacement gcp) {
    void *obj = gc_alloc_placed(size, gcp);
    GC_OP_NEW_OOM_CHECK(obj);
    return obj;
  }
  inline void *operator new(size_t, void *p) GC_NOEXCEPT { return p; }
  inline void operator delete(void *obj) GC_NOEXCEPT { GC_FREE(obj); }
  inline void operator delete(void *, GCPlacement) GC_NOEXCEPT {}
  inline void operator delete(void *, void *) GC_NOEXCEPT {}
  inline void *operator new[](size_t size) { return gc::operator new(size); }
  inline void *operator new[](size_t size, GCPlacement gcp) { return gc::operator new(size, gcp); }
  inline void *operator new[](size_t, void *p) GC_NOEXCEPT { return p; }
  inline void operator delete[](void *obj) GC_NOEXCEPT { gc::operator delete(obj); }
  inline void operator delete[](void *, GCPlacement) GC_NOEXCEPT {}
  inline void operator delete[](void *, void *) GC_NOEXCEPT {}
};

class gc_cleanup : virtual public gc {
public:
  inline gc_cleanup();
  inline virtual ~gc_cleanup();

private:
  inline static void GC_CALLBACK cleanup(void *obj, void *clientData);
};

extern "C" {
typedef void(GC_CALLBACK *GCCleanUpFunc)(void *obj, void *clientData);
}

#ifdef GC_NAMESPACE
}
#endif

/* The finalizer's data is the object's offset from its block's start. */
inline GC_NS_QUALIFY(gc_cleanup)::gc_cleanup() {
  void *this_ptr = reinterpret_cast<void *>(this);
  void *base = GC_base(this_ptr);
  if (base) {
    GC_finalization_proc old_proc = 0;
    void *old_data = 0;
    GC_register_finalizer_ignore_self(
        base, reinterpret_cast<GC_finalization_proc>(cleanup),
        reinterpret_cast<void *>(reinterpret_cast<char *>(this_ptr) -
                                 reinterpret_cast<char *>(base)),
        &old_proc, &old_data);
    if (old_proc)
      GC_register_finalizer_ignore_self(base, old_proc, old_data, 0, 0);
  }
}

inline GC_NS_QUALIFY(gc_cleanup)::~gc_cleanup() {
  void *base = GC_base(reinterpret_cast<void *>(this));
  if (base)
    GC_register_finalizer_ignore_self(base, 0, 0, 0, 0);
}

inline void GC_CALLBACK GC_NS_QUALIFY(gc_cleanup)::cleanup(void *obj, void *displ) {
  reinterpret_cast<gc_cleanup *>(reinterpret_cast<char *>(obj) +
                                 reinterpret_cast<ptrdiff_t>(displ))
      ->~gc_cleanup();
}

inline void *operator new(size_t size, GC_NS_QUALIFY(GCPlacement) gcp,
                          GC_NS_QUALIFY(GCCleanUpFunc) cleanup = 0, void *clientData = 0) {
  void *obj = GC_NS_QUALIFY(gc_alloc_placed)(size, gcp);
  if (obj && cleanup && gcp == GC_NS_QUALIFY(UseGC))
    GC_REGISTER_FINALIZER_IGNORE_SELF(obj, cleanup, clientData, 0, 0);
  GC_OP_NEW_OOM_CHECK(obj);
  return obj;
}
inline void operator delete(void *obj, GC_NS_QUALIFY(GCPlacement), GC_NS_QUALIFY(GCCleanUpFunc),
                            void *) GC_NOEXCEPT {
  GC_FREE(obj);
}
inline void *operator new[](size_t size, GC_NS_QUALIFY(GCPlacement) gcp,
                            GC_NS_QUALIFY(GCCleanUpFunc) cleanup = 0, void *clientData = 0) {
  return ::operator new(size, gcp, cleanup, clientData);
}
inline void operator delete[](void *obj, GC_NS_QUALIFY(GCPlacement), GC_NS_QUALIFY(GCCleanUpFunc),
                              void *) GC_NOEXCEPT {
  GC_FREE(obj);
}

#endif /* GOMALLOC_GC_CPP_H */

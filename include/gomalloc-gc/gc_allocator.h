/* gc_allocator.h: Boehm's STL allocators. gc_allocator<T>: collected
 * (pointer-free element types, as Boehm picks them, are not scanned);
 * gc_allocator_ignore_off_page<T>: the same here; traceable_allocator<T>:
 * uncollectable and scanned, for containers that live in plain memory and
 * point into the collected heap. */
#ifndef GOMALLOC_GC_ALLOCATOR_H
#define GOMALLOC_GC_ALLOCATOR_H

#include "gc.h"

#include <cstddef>
#include <new>

struct GC_true_type {};
struct GC_false_type {};
template <class GC_tp> struct GC_type_traits {
  GC_false_type GC_is_ptr_free;
};
#define GC_DECLARE_PTRFREE(T)                                                                      \
  template <> struct GC_type_traits<T> {                                                           \
    GC_true_type GC_is_ptr_free;                                                                   \
  }
GC_DECLARE_PTRFREE(char);
GC_DECLARE_PTRFREE(signed char);
GC_DECLARE_PTRFREE(unsigned char);
GC_DECLARE_PTRFREE(signed short);
GC_DECLARE_PTRFREE(unsigned short);
GC_DECLARE_PTRFREE(signed int);
GC_DECLARE_PTRFREE(unsigned int);
GC_DECLARE_PTRFREE(signed long);
GC_DECLARE_PTRFREE(unsigned long);
GC_DECLARE_PTRFREE(float);
GC_DECLARE_PTRFREE(double);
GC_DECLARE_PTRFREE(long double);

inline void *GC_selective_alloc(size_t n, GC_false_type, bool) { return GC_MALLOC(n); }
inline void *GC_selective_alloc(size_t n, GC_true_type, bool) { return GC_MALLOC_ATOMIC(n); }
inline void *GC_allocator_checked(void *p) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  if (!p)
    throw std::bad_alloc();
#endif
  return p;
}

#define GOMALLOC_GC_ALLOCATOR_BODY(NAME, ALLOC, FREE)                                              \
public:                                                                                            \
  typedef size_t size_type;                                                                        \
  typedef ptrdiff_t difference_type;                                                               \
  typedef GC_Tp *pointer;                                                                          \
  typedef const GC_Tp *const_pointer;                                                              \
  typedef GC_Tp &reference;                                                                        \
  typedef const GC_Tp &const_reference;                                                            \
  typedef GC_Tp value_type;                                                                        \
  template <class GC_Tp1> struct rebind {                                                          \
    typedef NAME<GC_Tp1> other;                                                                    \
  };                                                                                               \
  NAME() throw() {}                                                                                \
  NAME(const NAME &) throw() {}                                                                    \
  template <class GC_Tp1> NAME(const NAME<GC_Tp1> &) throw() {}                                    \
  ~NAME() throw() {}                                                                               \
  pointer address(reference GC_x) const { return &GC_x; }                                          \
  const_pointer address(const_reference GC_x) const { return &GC_x; }                              \
  GC_Tp *allocate(size_type GC_n, const void * = 0) {                                              \
    return static_cast<GC_Tp *>(GC_allocator_checked(ALLOC));                                      \
  }                                                                                                \
  void deallocate(pointer GC_p, size_type) throw() { FREE(GC_p); }                                 \
  size_type max_size() const throw() { return size_t(-1) / sizeof(GC_Tp); }                      \
  void construct(pointer GC_p, const GC_Tp &GC_val) { new (GC_p) GC_Tp(GC_val); }                  \
  void destroy(pointer GC_p) { GC_p->~GC_Tp(); }

template <class GC_Tp> class gc_allocator {
  GOMALLOC_GC_ALLOCATOR_BODY(gc_allocator,
                             GC_selective_alloc(GC_n * sizeof(GC_Tp),
                                                GC_type_traits<GC_Tp>().GC_is_ptr_free, false),
                             GC_FREE)
};
template <class GC_Tp> class gc_allocator_ignore_off_page {
  GOMALLOC_GC_ALLOCATOR_BODY(gc_allocator_ignore_off_page,
                             GC_selective_alloc(GC_n * sizeof(GC_Tp),
                                                GC_type_traits<GC_Tp>().GC_is_ptr_free, true),
                             GC_FREE)
};
template <class GC_Tp> class traceable_allocator {
  GOMALLOC_GC_ALLOCATOR_BODY(traceable_allocator, GC_MALLOC_UNCOLLECTABLE(GC_n * sizeof(GC_Tp)),
                             GC_FREE)
};

template <class GC_T1, class GC_T2>
inline bool operator==(const gc_allocator<GC_T1> &, const gc_allocator<GC_T2> &) {
  return true;
}
template <class GC_T1, class GC_T2>
inline bool operator!=(const gc_allocator<GC_T1> &, const gc_allocator<GC_T2> &) {
  return false;
}
template <class GC_T1, class GC_T2>
inline bool operator==(const gc_allocator_ignore_off_page<GC_T1> &,
                       const gc_allocator_ignore_off_page<GC_T2> &) {
  return true;
}
template <class GC_T1, class GC_T2>
inline bool operator!=(const gc_allocator_ignore_off_page<GC_T1> &,
                       const gc_allocator_ignore_off_page<GC_T2> &) {
  return false;
}
template <class GC_T1, class GC_T2>
inline bool operator==(const traceable_allocator<GC_T1> &, const traceable_allocator<GC_T2> &) {
  return true;
}
template <class GC_T1, class GC_T2>
inline bool operator!=(const traceable_allocator<GC_T1> &, const traceable_allocator<GC_T2> &) {
  return false;
}

#endif /* GOMALLOC_GC_ALLOCATOR_H */

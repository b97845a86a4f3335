// profile_prog_cxx.cpp: operator new in every form, with known sizes, for
// `gomalloc run --profile` (tests/profile/check_profile.sh). Writes the
// expected "lo hi count" lines to argv[1], as profile_prog.c does.
#include <cstdio>
#include <cstdlib>
#include <new>

// The compiler may drop a new-expression whose block is only deleted: keep
// every pointer visible.
static void *volatile sink;
template <class T> static T *kept(T *p) {
  sink = p;
  return p;
}

int main(int argc, char **argv) {
  std::FILE *expect = argc > 1 ? std::fopen(argv[1], "w") : nullptr;
  if (!expect)
    return 2;
  for (int i = 0; i < 3; i++)
    delete[] kept(new char[4441]);
  std::fprintf(expect, "4441 4441 3\n");
  for (int i = 0; i < 2; i++)
    ::operator delete(kept(::operator new(5677)));
  std::fprintf(expect, "5677 5677 2\n");
  delete[] kept(new (std::nothrow) char[5683]);
  ::operator delete(kept(::operator new(5689, std::nothrow)));
  std::fprintf(expect, "5683 5683 1\n5689 5689 1\n");
  ::operator delete(kept(::operator new(6464, std::align_val_t(64))), std::align_val_t(64));
  ::operator delete[](kept(::operator new[](6528, std::align_val_t(128))), std::align_val_t(128));
  ::operator delete(kept(::operator new(6592, std::align_val_t(64), std::nothrow)),
                    std::align_val_t(64));
  ::operator delete[](kept(::operator new[](6656, std::align_val_t(64), std::nothrow)),
                      std::align_val_t(64));
  std::fprintf(expect, "6464 6464 1\n6528 6528 1\n6592 6592 1\n6656 6656 1\n");
  // A failing new still throws std::bad_alloc through the profiler.
  bool threw = false;
  try {
    volatile std::size_t huge = ~std::size_t{0} / 2;
    ::operator delete(kept(::operator new(huge)));
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  std::fclose(expect);
  std::puts(threw ? "bad_alloc thrown" : "no bad_alloc");
  return threw ? 0 : 1;
}

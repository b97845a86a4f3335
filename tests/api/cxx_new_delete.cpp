// cxx_new_delete.cpp: C++ operator new/delete through gomalloc (checklist
// item 34). Linked with libgomalloc.so, which replaces every global
// operator new and delete.
//
//  - new/delete, new[]/delete[], nothrow new, sized delete, aligned new
//    (alignas(64) and alignas(4096) types, explicit align_val_t) and aligned
//    sized delete: the memory is gomalloc's (gm_usable_size(p) > 0 and
//    malloc_usable_size agrees), aligned as asked, and freed cleanly;
//  - new of a huge size throws std::bad_alloc (also aligned, also new[]),
//    nothrow new returns nullptr, and the new_handler is called before the
//    throw;
//  - new(0) gives unique pointers; containers work, also across threads.
// Each section runs in a forked child: a foreign pointer makes
// gm_usable_size abort, which is reported as that section's failure.
#include "../common/check.h"

#include "gomalloc.h"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <thread>
#include <vector>

static size_t opaque(size_t x) {
  __asm__ volatile("" : "+r"(x));
  return x;
}
// Makes a pointer escape, so a new/delete pair cannot be elided.
static void escape(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

// The block at p is gomalloc's: both usable-size functions agree and see
// at least n bytes.
static void check_owned(const void *p, size_t n, const char *what) {
  size_t g = gm_usable_size(p);
  size_t m = malloc_usable_size(const_cast<void *>(p));
  CHECK(g >= n && g == m,
        "%s: expected a gomalloc block of >= %zu bytes (gm_usable_size == malloc_usable_size), "
        "got gm %zu, malloc %zu for %p",
        what, n, g, m, p);
}

static void check_aligned(const void *p, size_t a, const char *what) {
  CHECK(reinterpret_cast<uintptr_t>(p) % a == 0, "%s: expected %zu-byte alignment, got %p", what,
        a, p);
}

struct alignas(64) A64 {
  char c[100];
};
struct alignas(4096) A4096 {
  char c[5000];
};
struct alignas(64) A64D { // with a destructor: new[] stores a cookie
  char c[64];
  ~A64D() { c[0] = 0; }
};

static void section_basic() {
  int *i = new int(7);
  check_owned(i, sizeof(int), "new int");
  delete i;
  char *c = new char[1000];
  check_owned(c, 1000, "new char[1000]");
  delete[] c;
  char *big = new char[opaque(3 << 20)];
  check_owned(big, 3 << 20, "new char[3 MiB]");
  delete[] big;
  int *n = new (std::nothrow) int[100];
  CHECK(n != nullptr, "new(nothrow) int[100]: expected a block, got nullptr");
  check_owned(n, 400, "new(nothrow) int[100]");
  delete[] n;
  int *one = new (std::nothrow) int(5);
  check_owned(one, 4, "new(nothrow) int");
  delete one;
  // operator new / delete called directly, sized delete.
  for (size_t sz : {size_t(1), size_t(8), size_t(100), size_t(4096), size_t(32768), size_t(32769),
                    size_t(1) << 20}) {
    void *p = ::operator new(sz);
    check_owned(p, sz, "operator new(size)");
    std::memset(p, 1, sz);
    ::operator delete(p, sz);
    p = ::operator new[](sz);
    check_owned(p, sz, "operator new[](size)");
    ::operator delete[](p, sz);
    p = ::operator new(sz, std::nothrow);
    check_owned(p, sz, "operator new(size, nothrow)");
    ::operator delete(p, std::nothrow);
    p = ::operator new[](sz, std::nothrow);
    check_owned(p, sz, "operator new[](size, nothrow)");
    ::operator delete[](p, std::nothrow);
  }
  // new(0): unique, non-null.
  void *z1 = ::operator new(opaque(0)), *z2 = ::operator new(opaque(0));
  CHECK(z1 && z2 && z1 != z2, "operator new(0) twice: expected two distinct pointers, got %p %p", z1,
        z2);
  ::operator delete(z1);
  ::operator delete(z2);
}

static void section_aligned() {
  A64 *a = new A64;
  check_aligned(a, 64, "new A64");
  check_owned(a, sizeof(A64), "new A64");
  delete a;
  A64 *aa = new A64[10];
  check_aligned(aa, 64, "new A64[10]");
  check_owned(aa, sizeof(A64) * 10, "new A64[10]");
  delete[] aa;
  A4096 *b = new A4096;
  check_aligned(b, 4096, "new A4096");
  check_owned(b, sizeof(A4096), "new A4096");
  delete b;
  A4096 *bb = new A4096[3];
  check_aligned(bb, 4096, "new A4096[3]");
  check_owned(bb, sizeof(A4096) * 3, "new A4096[3]");
  delete[] bb;
  // Arrays with a cookie: aligned elements, freed through the cookie.
  A64D *d = new A64D[7];
  check_aligned(d, 64, "new A64D[7]");
  delete[] d;
  A64 *an = new (std::nothrow) A64;
  check_aligned(an, 64, "new(nothrow) A64");
  check_owned(an, sizeof(A64), "new(nothrow) A64");
  delete an;
  // Explicit align_val_t, aligned sized delete.
  for (size_t al : {size_t(16), size_t(32), size_t(64), size_t(256), size_t(4096), size_t(8192),
                    size_t(65536), size_t(2) << 20}) {
    for (size_t sz : {size_t(1), al / 2 + 1, al, 3 * al + 5}) {
      std::align_val_t av{al};
      void *p = ::operator new(sz, av);
      check_aligned(p, al, "operator new(size, align)");
      check_owned(p, sz, "operator new(size, align)");
      std::memset(p, 2, sz);
      ::operator delete(p, sz, av);
      p = ::operator new[](sz, av);
      check_aligned(p, al, "operator new[](size, align)");
      check_owned(p, sz, "operator new[](size, align)");
      ::operator delete[](p, sz, av);
      p = ::operator new(sz, av, std::nothrow);
      check_aligned(p, al, "operator new(size, align, nothrow)");
      check_owned(p, sz, "operator new(size, align, nothrow)");
      ::operator delete(p, av, std::nothrow);
      p = ::operator new[](sz, av, std::nothrow);
      check_aligned(p, al, "operator new[](size, align, nothrow)");
      ::operator delete[](p, av, std::nothrow);
      p = ::operator new(sz, av);
      ::operator delete(p, av);
      p = ::operator new[](sz, av);
      ::operator delete[](p, av);
    }
  }
}

static int handler_calls;
static void one_shot_handler() {
  handler_calls++;
  std::set_new_handler(nullptr); // next failure throws
}

static void section_bad_alloc() {
  const size_t huge[] = {SIZE_MAX, SIZE_MAX / 2, size_t(PTRDIFF_MAX) + 1, size_t(1) << 50};
  for (size_t n : huge) {
    bool threw = false;
    try {
      void *p = ::operator new(opaque(n));
      escape(p);
      std::printf("operator new(%zx) returned %p\n", n, p);
      ::operator delete(p);
    } catch (const std::bad_alloc &) {
      threw = true;
    }
    CHECK(threw, "operator new(0x%zx): expected std::bad_alloc", n);
    threw = false;
    try {
      char *p = new char[opaque(n)];
      escape(p);
      std::printf("new char[%zx] returned %p\n", n, static_cast<void *>(p));
      delete[] p;
    } catch (const std::bad_alloc &) {
      threw = true;
    }
    CHECK(threw, "new char[0x%zx]: expected std::bad_alloc", n);
    threw = false;
    try {
      void *p = ::operator new(opaque(n), std::align_val_t{64});
      escape(p);
      std::printf("operator new(%zx, align 64) returned %p\n", n, p);
      ::operator delete(p, std::align_val_t{64});
    } catch (const std::bad_alloc &) {
      threw = true;
    }
    CHECK(threw, "operator new(0x%zx, align 64): expected std::bad_alloc", n);
    threw = false;
    try {
      void *p = ::operator new[](opaque(n), std::align_val_t{4096});
      escape(p);
      std::printf("operator new[](%zx, align 4096) returned %p\n", n, p);
      ::operator delete[](p, std::align_val_t{4096});
    } catch (const std::bad_alloc &) {
      threw = true;
    }
    CHECK(threw, "operator new[](0x%zx, align 4096): expected std::bad_alloc", n);
    void *p = ::operator new(opaque(n), std::nothrow);
    CHECK(p == nullptr, "operator new(0x%zx, nothrow): expected nullptr, got %p", n, p);
    p = ::operator new[](opaque(n), std::nothrow);
    CHECK(p == nullptr, "operator new[](0x%zx, nothrow): expected nullptr, got %p", n, p);
    p = ::operator new(opaque(n), std::align_val_t{256}, std::nothrow);
    CHECK(p == nullptr, "operator new(0x%zx, align, nothrow): expected nullptr, got %p", n, p);
  }
  // The new_handler runs before the throw ([new.delete.single]).
  handler_calls = 0;
  std::set_new_handler(one_shot_handler);
  bool threw = false;
  try {
    void *p = ::operator new(opaque(SIZE_MAX / 2));
    escape(p);
    ::operator delete(p);
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  std::set_new_handler(nullptr);
  CHECK(threw && handler_calls == 1,
        "new_handler: expected one call then std::bad_alloc, got %d calls, %s", handler_calls,
        threw ? "threw" : "no throw");
  // After all that, new still works.
  int *ok = new int[10];
  check_owned(ok, 40, "new after bad_alloc");
  delete[] ok;
}

static void section_containers() {
  std::vector<std::string> v;
  for (int i = 0; i < 20000; i++)
    v.push_back(std::string(static_cast<size_t>(i % 300), 'x') + std::to_string(i));
  std::map<int, std::vector<int>> m;
  for (int i = 0; i < 5000; i++)
    m[i].assign(static_cast<size_t>(i % 100), i);
  CHECK(v[19999].size() == 19999 % 300 + 5, "vector<string>: unexpected size %zu", v[19999].size());
  CHECK(m[4999].size() == 99, "map<int, vector>: unexpected size %zu", m[4999].size());
  check_owned(v.data(), v.size() * sizeof(std::string), "vector storage");
  // Threads: objects made in one thread, deleted in another.
  std::vector<int *> ptrs(10000);
  std::thread maker([&] {
    for (auto &p : ptrs)
      p = new int[17];
  });
  maker.join();
  std::thread deleter([&] {
    for (auto p : ptrs)
      delete[] p;
  });
  deleter.join();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([] {
      for (int i = 0; i < 20000; i++) {
        auto *s = new std::string(static_cast<size_t>(i % 100), 'y');
        auto *a = new A64;
        delete s;
        delete a;
      }
    });
  for (auto &t : ts)
    t.join();
  CHECK(true, "containers");
}

// Runs one section in a forked child; a crash or abort is a failure.
static void run_section(const char *name, void (*fn)()) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    check_reset(); // the child's checks count from zero
    fn();
    std::fflush(stdout);
    _exit(check_failures() ? 1 : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (WIFSIGNALED(st))
    CHECK(ok, "section %s: killed by signal %d (%s)", name, WTERMSIG(st), strsignal(WTERMSIG(st)));
  else if (CHECK(ok, "section %s: exit %d (its checks failed, see above)", name, WEXITSTATUS(st)))
    std::printf("ok   %s\n", name);
}

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("cxx_new_delete\n");
  run_section("basic new/delete", section_basic);
  run_section("aligned new/delete", section_aligned);
  run_section("bad_alloc", section_bad_alloc);
  run_section("containers and threads", section_containers);
  return check_summary();
}

// boehm_cpp.cc: a C++ program written against Boehm GC's gc_cpp.h and
// gc_allocator.h, built unchanged: classes deriving from gc and
// gc_cleanup, new (GC) / (NoGC) / (PointerFreeGC), ::new with a clean-up
// function, and the STL allocators. Collected-ness checks ask for most
// objects (a conservative scan may keep a few); destructor counts are
// strict where they must be.
#include <gc_allocator.h>
#include <gc_cpp.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

static int passed, failed;
#define EXPECT(c, what)                                                                            \
  do {                                                                                             \
    if (c)                                                                                         \
      passed++;                                                                                    \
    else {                                                                                         \
      failed++;                                                                                    \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, what);                                   \
    }                                                                                              \
  } while (0)

enum { N = 400 };

struct Plain {
  int i;
  explicit Plain(int v) : i(v) {}
};

struct Collected : public gc {
  Collected *next;
  int i;
  explicit Collected(int v) : next(0), i(v) {}
};

// Virtual multiple inheritance, as Boehm's own test does.
struct Cleaned : public gc_cleanup, public Plain {
  static int made, destroyed;
  Cleaned *child;
  explicit Cleaned(int v) : Plain(v), child(0) { made++; }
  ~Cleaned() { destroyed++; }
};
int Cleaned::made, Cleaned::destroyed;

struct Deleted : public gc_cleanup {
  static int destroyed;
  ~Deleted() { destroyed++; }
};
int Deleted::destroyed;

struct WithFn : public gc {
  static int cleaned, bad;
  int i;
  explicit WithFn(int v) : i(v) {}
  static void GC_CALLBACK CleanUp(void *obj, void *data) {
    cleaned++;
    if (static_cast<WithFn *>(obj)->i != (int)(GC_word)data)
      bad++;
  }
};
int WithFn::cleaned, WithFn::bad;

static __attribute__((noinline)) void scrub() {
  volatile char buf[32768];
  std::memset((char *)buf, 0, sizeof buf);
}

static void collect() {
  for (int k = 0; k < 3; k++) {
    scrub();
    GC_gcollect();
  }
}

static __attribute__((noinline)) void make_garbage() {
  for (int i = 0; i < N; i++) {
    Cleaned *c = new Cleaned(i);
    c->child = new Cleaned(-i);
    ::new (GC, WithFn::CleanUp, (void *)(GC_word)i) WithFn(i);
    new (PointerFreeGC) char[100];
  }
}

// Not static: written only, a static would be optimised away.
GC_word hidden[N];
Cleaned *kept_cleaned;

static __attribute__((noinline)) void make_uncollectable() {
  for (int i = 0; i < N; i++)
    hidden[i] = ~(GC_word) new (NoGC) Collected(i);
  kept_cleaned = new Cleaned(12345);
}

int main() {
  GC_INIT();
  make_uncollectable();
  int made_kept = Cleaned::made;
  make_garbage();
  collect();
  int d = Cleaned::destroyed;
  EXPECT(d >= 2 * N * 8 / 10 && d <= 2 * N, "gc_cleanup destructors ran for most objects");
  EXPECT(WithFn::cleaned >= N * 8 / 10 && WithFn::bad == 0, "::new (GC, cleanup, data) ran");
  EXPECT(kept_cleaned->i == 12345 && made_kept == 1, "a reachable gc_cleanup object is kept");
  int ok = 1;
  for (int i = 0; i < N; i++)
    ok &= ((Collected *)~hidden[i])->i == i;
  EXPECT(ok, "new (NoGC) objects are never collected");
  for (int i = 0; i < N; i++)
    delete (Collected *)~hidden[i];

  // delete of a gc_cleanup object runs its destructor once, not again.
  Deleted *del = new Deleted;
  delete del;
  del = 0;
  collect();
  EXPECT(Deleted::destroyed == 1, "delete runs the destructor once");

  // STL containers: collected storage holding collected objects.
  std::vector<Collected *, gc_allocator<Collected *> > v;
  for (int i = 0; i < 10000; i++)
    v.push_back(new Collected(i));
  std::map<int, Collected *, std::less<int>, traceable_allocator<std::pair<const int, Collected *> > >
      m;
  for (int i = 0; i < 1000; i++)
    m[i] = new Collected(-i);
  std::vector<double, gc_allocator<double> > dv(100000, 1.5);
  for (int k = 0; k < 50; k++)
    make_garbage();
  collect();
  ok = 1;
  for (int i = 0; i < 10000; i++)
    ok &= v[i]->i == i;
  for (int i = 0; i < 1000; i++)
    ok &= m[i]->i == -i;
  EXPECT(ok && dv[99999] == 1.5, "containers with gc_allocator and traceable_allocator");
  std::printf("collections %lu\n", (unsigned long)GC_gc_no);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}

/* private/gcconfig.h: not Boehm's (its platform configuration, part of
 * its private headers), but the few macros its public tests and clients
 * read from it (initsecondarythread.c, test_cpp.cc), so that they build
 * unchanged: the OS and the word size. */
#ifndef GOMALLOC_GC_PRIVATE_GCCONFIG_H
#define GOMALLOC_GC_PRIVATE_GCCONFIG_H

#ifdef __linux__
#ifndef LINUX
#define LINUX
#endif
#endif
#if defined(__x86_64__) && !defined(X86_64)
#define X86_64
#elif defined(__aarch64__) && !defined(AARCH64)
#define AARCH64
#elif defined(__i386__) && !defined(I386)
#define I386
#endif
#ifndef CPP_WORDSZ
#define CPP_WORDSZ (__SIZEOF_POINTER__ * 8)
#endif

#endif /* GOMALLOC_GC_PRIVATE_GCCONFIG_H */

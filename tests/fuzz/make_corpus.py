#!/usr/bin/env python3
"""Write the seed corpus of fuzz_api.c into tests/fuzz/corpus/.

Each seed is a short program in the harness's encoding (see step() and
the rd_* readers in fuzz_api.c); the fuzzer mutates from there. Run it
again after changing the encoding: python3 tests/fuzz/make_corpus.py"""
import os
import struct

# Indices into optable[] (the op byte's low 5 bits).
MALLOC, CALLOC, REALLOC, REALLOCARRAY, FREE = 0, 4, 6, 9, 10
ALIGNED, POSIX, MEMALIGN, VALLOC, PVALLOC, VERIFY = 14, 16, 17, 18, 19, 20
REMOTE_FREE, BATCH_ALLOC, BATCH_FREE, CHAIN, MISC = 21, 24, 26, 27, 29
REMOTE = 0xE0  # op | REMOTE: the call runs on the second thread


def variant(v):  # the free variant: bits 5-7 of the op byte, mod 5
    return v << 5  # 0 free, 1 free_sized, 2 free_aligned_sized, 3 realloc 0, 4 reallocarray 0


def tiny(n): return bytes([0, n])
def cls(i, d=0): return bytes([4]) + struct.pack('<H', i + 67 * (d + 1))
def small(n): return bytes([7]) + struct.pack('<H', n)
def pages(k, d=0): return bytes([9]) + struct.pack('<H', (k - 1) + 1024 * (d + 1))
def medium(x): return bytes([11]) + struct.pack('<I', x)
def big(i): return bytes([12, i])
def huge(i): return bytes([13, i])
def impossible(i): return bytes([14, i])
def raw(n): return bytes([15]) + struct.pack('<Q', n)

def al_small(e): return bytes([0, e])   # 1 << (e % 13)
def al_pow2(e): return bytes([3, e])    # 1 << (e % 35)
def al_bad(i): return bytes([4, i])
def al_far(i): return bytes([5, i])

def cs_overflow(): return bytes([0, 31, 1, 31, 1])
def cs(count, size16): return bytes([4, count]) + struct.pack('<H', size16)
def cs_zero_count(size): return bytes([2]) + size


def op(o, *parts): return bytes([o]) + b''.join(parts)
def slot(s): return bytes([s])


seeds = {}

# Every size class boundary, each freed a different way.
p = b''
for i in range(0, 67, 3):
    for d in (-1, 0, 1):
        p += op(MALLOC, slot(i), cls(i, d))
for s in range(0, 60, 2):
    p += op(FREE | variant(s % 5), slot(s))
p += op(MALLOC, slot(0), tiny(0)) + op(MALLOC, slot(1), tiny(1)) + op(MALLOC, slot(2), tiny(17))
seeds['classes'] = p

# Realloc chains: grow through classes into pages and back, shrink in place.
p = op(MALLOC, slot(0), tiny(5))
p += op(CHAIN, slot(0), bytes([7]), small(100), small(4000), cls(66, 1), pages(3),
        pages(40, 1), pages(2, -1), tiny(3), tiny(0))
p += op(REALLOC, slot(255), small(300), slot(9))  # realloc(NULL, n)
p += op(REALLOCARRAY, slot(9), cs(4, 1000))
p += op(REALLOCARRAY, slot(9), cs_overflow())
p += op(REALLOC, slot(9), impossible(10))
p += op(REALLOC, slot(9), big(5)) + op(REALLOC, slot(9), medium(12345))
p += op(CALLOC, slot(3), cs(8, 2000)) + op(REALLOC, slot(3), tiny(0))
seeds['realloc'] = p

# Alignments, valid and not, and the page-aligned calls.
p = b''
for e in (0, 3, 4, 6, 12):
    p += op(ALIGNED, slot(e), al_small(e), small(100 + e))
    p += op(POSIX, slot(e + 20), al_small(e), small(5000))
    p += op(MEMALIGN, slot(e + 40), al_small(e), tiny(e))
p += op(ALIGNED, slot(70), al_pow2(21), pages(300)) + op(ALIGNED, slot(71), al_pow2(30), tiny(8))
for i in range(0, 13, 2):
    p += op(ALIGNED, slot(80), al_bad(i), tiny(8)) + op(POSIX, slot(80), al_bad(i), tiny(8))
    p += op(MEMALIGN, slot(90 + i), al_bad(i), small(64))
for i in range(9):
    p += op(ALIGNED, slot(100), al_far(i), tiny(8)) + op(MEMALIGN, slot(100), al_far(i), tiny(8))
    p += op(POSIX, slot(100), al_far(i), tiny(8))
p += op(VALLOC, slot(120), tiny(0)) + op(PVALLOC, slot(121), small(4097))
p += op(VALLOC, slot(122), pages(9, 1)) + op(PVALLOC, slot(123), impossible(6))
for s in (0, 20, 40, 3, 23, 43, 70, 71):
    p += op(FREE | variant(2), slot(s))
seeds['align'] = p

# Failures: sizes past the address space, overflowing counts.
p = b''
for i in range(11):
    p += op(MALLOC, slot(i), impossible(i)) + op(VALLOC, slot(i), impossible(i))
p += op(CALLOC, slot(0), cs_overflow()) + op(CALLOC, slot(1), bytes([1, 0, 7]))
p += op(CALLOC, slot(2), cs_zero_count(small(64))) + op(MALLOC, slot(3), raw(2**64 - 1))
p += op(REALLOCARRAY, slot(255), cs_overflow(), slot(4))
seeds['errors'] = p

# Large and huge blocks, the page heap growing and shrinking.
p = b''
for i in range(12):
    p += op(MALLOC, slot(i), big(i))
p += op(MALLOC, slot(20), huge(0)) + op(REALLOC, slot(20), huge(1))
p += op(REALLOC, slot(20), pages(2)) + op(MALLOC, slot(21), medium(7 << 20))
p += op(MISC, bytes([2]))  # release
for i in range(0, 12, 2):
    p += op(FREE, slot(i))
p += op(MALLOC, slot(30), huge(2))
seeds['large'] = p

# Two threads: remote frees, blocks allocated there and freed here, batches.
p = op(BATCH_ALLOC, bytes([40]), cls(10)) + op(BATCH_ALLOC | 0x20, bytes([20]), cls(40))
p += op(BATCH_FREE, bytes([0, 30, 0x5A])) + op(MISC, bytes([1]))
p += op(MALLOC | REMOTE, slot(100), small(700)) + op(CALLOC | REMOTE, slot(101), cs(3, 300))
p += op(ALIGNED | REMOTE, slot(102), al_small(9), small(3000))
p += op(REALLOC | REMOTE, slot(100), pages(5))
p += op(FREE, slot(100)) + op(REMOTE_FREE | variant(1), slot(101))
p += op(MISC, bytes([7])) + op(MISC, bytes([3])) + op(BATCH_FREE, bytes([0, 64, 0xFF]))
p += op(MISC, bytes([9])) + op(MISC, bytes([0])) + op(MISC, bytes([3]))
seeds['threads'] = p

# The rest of the API: stats, printers, heap map, NULL calls, verify.
p = op(MALLOC, slot(0), small(100)) + op(MALLOC, slot(1), pages(20))
p += op(MISC, bytes([3])) + op(MISC, bytes([4, 0])) + op(MISC, bytes([5, 0]))
p += op(MISC, bytes([6, 1, 2])) + op(MISC, bytes([8])) + op(VERIFY, slot(1))
p += op(MISC, bytes([2])) + op(MISC, bytes([0]))
seeds['misc'] = p

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, 'corpus')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
    print(f'{name}: {len(data)} bytes')

#!/usr/bin/python3
"""gomalloc benchmark runner (Python 3 standard library only).

Runs every workload under every allocator, interleaved (A B C D E A B C D E
...), several times; measures wall time and CPU time (user+sys) of each run
with os.wait4() and its peak RSS (VmHWM, which the workload reports); reports medians with min-max spread and the ratio
of each allocator to gomalloc as Markdown (stdout and bench/results/), a CSV
of the raw samples and a gnuplot chart. Normally started by bench/run.sh.

Environment (all optional):
  QUICK=1            2 repeats, small scales (under a minute)
  REPEATS=n          repeats per workload and allocator (default 5, QUICK 2)
  THREADS=n          threads for the multi-threaded workloads (default nproc)
  SCALE=x            multiplies every workload's default scale
  ALLOCATORS="..."   names from: gomalloc glibc jemalloc tcmalloc mimalloc,
                     or name=/path/to/lib.so for another preloadable library
  WORKLOADS="..."    only these workloads (names as in the table)
  TIMEOUT=s          kill a run after s seconds (default 120, QUICK 30)
  RESULTS_DIR=dir    where the result files go (default bench/results)
  SCALING=0          skip the two-threads-against-one runs
"""

import argparse
import csv
import datetime
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name, program, mode arguments, threads ("1", "T" or a fixed count), default scale, QUICK
# scale, max repeats (None: all), one-line description
WORKLOADS = [
    ("pairs-tiny", "wl_pairs", ["tiny"], "1", 1.0, 0.1, None, "malloc/free pairs, 8-64 B"),
    ("pairs-small", "wl_pairs", ["small"], "1", 1.0, 0.1, None, "malloc/free pairs, 64-512 B"),
    ("pairs-medium", "wl_pairs", ["medium"], "1", 1.0, 0.1, None, "malloc/free pairs, 512 B-8 KiB"),
    ("pairs-mid", "wl_pairs", ["mid"], "1", 1.0, 0.1, None, "malloc/free pairs, 8-32 KiB"),
    ("pairs-large", "wl_pairs", ["large"], "1", 1.0, 0.1, None, "malloc/free pairs, 64 KiB-1 MiB"),
    ("pairs-onesize", "wl_pairs", ["onesize"], "1", 1.0, 0.1, None, "malloc/free pairs, always 32 B"),
    ("pairs-cycle", "wl_pairs", ["cycle"], "1", 1.0, 0.1, None, "malloc/free pairs, 8..256 B cycling"),
    ("churn", "wl_churn", [], "1", 1.0, 0.1, None, "1000 live blocks, free one/allocate one"),
    ("batch", "wl_batch", [], "1", 1.0, 0.25, None, "100k blocks, freed FIFO, LIFO, random"),
    ("realloc", "wl_realloc", [], "1", 1.0, 0.1, None, "vector doubling, string appends"),
    ("prodcons", "wl_prodcons", [], "T", 1.0, 0.1, None, "producer -> queue -> consumer frees"),
    ("churn-mt", "wl_churn", [], "T", 1.0, 0.1, None, "T threads churning their own blocks"),
    ("server", "wl_server", [], "T", 1.0, 0.1, None, "long-tailed sizes, cross-thread frees"),
    ("falseshare", "wl_falseshare", [], "T", 1.0, 0.1, None, "writes to small blocks of T threads"),
    ("app", "wl_app", [], "1", 1.0, 0.1, None, "hash table + tree of strings"),
    ("phase", "wl_phase", [], "1", 1.0, 0.1, 3, "grow 1 GiB, free 90%, settle, regrow"),
    ("bigbuf", "wl_bigbuf", [], "1", 1.0, 0.1, None, "malloc/fill/free 5-25 MiB buffers"),
    ("replace", "wl_replace", [], "1", 1.0, 0.1, None, "4000 live blocks of 8-520 B, random replacement"),
    ("replace-mt", "wl_replace", [], "64", 1.0, 0.1, None, "replace on 64 threads, RSS with half freed"),
    ("workset", "wl_workset", [], "T", 1.0, 0.1, None, "10k live blocks of 8 B-4 KiB per thread"),
    ("handoff", "wl_handoff", [], "T", 1.0, 0.1, None, "threads hand their live blocks on and exit"),
    ("rings", "wl_rings", [], "T", 1.0, 0.1, None, "ring of threads, mixed sizes, remote frees"),
    ("bigset", "wl_bigset", [], "1", 1.0, 0.1, None, "20 live 5-25 MiB buffers replaced, fully written"),
]

# Two threads against one (issue 16: "two threads no slower than one per
# operation beyond 5%"): workloads whose threads each do the same work on
# their own blocks, whatever their number. Per repeat and allocator, each
# runs with 1 thread at the scale below, as two such processes at once, and
# with 2 threads at twice the scale (the same work per thread); the report
# gives the per-operation CPU time (user+sys) of the two processes and of the
# two threads over the single thread. Two processes share nothing but the
# machine (caches, memory bandwidth, other load): what two threads cost above
# them is the allocator's. name (also a WORKLOADS name), program, mode
# arguments, scale of the 1-thread run, QUICK scale. Scale 0.3: 1-thread
# runs of 30-80 ms, 12-15 s in all for five allocators and 5 repeats. server
# is left out: with two threads one step in eight frees the other thread's
# block (remote frees by design), with one thread its own.
SCALING = [
    ("pairs-tiny", "wl_pairs", ["tiny"], 0.3, 0.05),
    ("pairs-small", "wl_pairs", ["small"], 0.3, 0.05),
    ("churn", "wl_churn", [], 0.3, 0.05),
    ("app", "wl_app", [], 0.3, 0.05),
]
# the start-up run subtracted from every scaling run's CPU time: the same
# process with next to no work (wl_pairs's minimum of 1000 operations)
SCALING_START = ("start", "wl_pairs", ["tiny"], 1e-6, 1e-6)

# workloads left out of the time geometric mean (wall time mostly fixed)
NO_TIME_GEOMEAN = {"phase"}

KNOWN_ALLOCATORS = ["gomalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"]
PEER_PACKAGES = {
    "jemalloc": ("libjemalloc2", r"/libjemalloc\.so\.2$"),
    "tcmalloc": ("libtcmalloc-minimal4", r"/libtcmalloc_minimal\.so\.4$"),
    "mimalloc": ("libmimalloc2.0", r"/libmimalloc\.so\.2$"),
}
# a symbol only this allocator exports
UNIQUE_SYMBOL = {"gomalloc": "gm_malloc", "jemalloc": "mallctl", "tcmalloc": "tc_malloc", "mimalloc": "mi_malloc"}
ALL_UNIQUE = ["gm_malloc", "mallctl", "tc_malloc", "MallocExtension_GetStats", "mi_malloc"]

STANDARD_KEYS = {"name", "threads", "ops", "checksum", "time_s", "hwm_kb", "malloc_lib"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cmd_output(args, default=""):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return default


# ---- allocators ---------------------------------------------------------------

class Allocator:
    def __init__(self, name, lib):
        self.name = name
        self.lib = lib            # path to preload, None for glibc
        self.provider = None      # realpath of the object providing malloc
        self.version = ""
        self.problem = None       # why it was refused


def find_peer_library(name):
    pkg, pattern = PEER_PACKAGES[name]
    for line in cmd_output(["dpkg", "-L", pkg]).splitlines():
        if re.search(pattern, line) and os.path.exists(line):
            return line
    # not from the package list: ask the loader cache
    soname = pattern.strip("/$").replace("\\", "")
    for line in cmd_output(["ldconfig", "-p"]).splitlines():
        if line.strip().startswith(soname.lstrip("/")):
            path = line.split("=>")[-1].strip()
            if os.path.exists(path):
                return path
    return None


def resolve_allocators(spec, build):
    allocs = []
    for item in spec.split():
        if "=" in item:
            name, lib = item.split("=", 1)
            a = Allocator(name, os.path.abspath(lib))
            if not os.path.exists(a.lib):
                a.problem = "library %s not found" % lib
        elif item == "glibc":
            a = Allocator("glibc", None)
        elif item == "gomalloc":
            a = Allocator("gomalloc", os.path.join(build, "libgomalloc.so"))
            if not os.path.exists(a.lib):
                a.problem = "%s not built" % a.lib
        elif item in PEER_PACKAGES:
            lib = find_peer_library(item)
            a = Allocator(item, lib)
            if lib is None:
                a.problem = "package %s not installed (bench/setup.sh installs it as root)" % PEER_PACKAGES[item][0]
        else:
            log("bench: unknown allocator %r (known: %s, or name=/path/lib.so)" % (item, " ".join(KNOWN_ALLOCATORS)))
            continue
        allocs.append(a)
    return allocs


def child_env(alloc):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if alloc.lib:
        env["LD_PRELOAD"] = alloc.lib
    return env


def check_allocator(alloc, bench_dir):
    """Runs alloc_check under the allocator; sets alloc.problem when the
    preload did not take."""
    if alloc.problem:
        return
    try:
        p = subprocess.run([os.path.join(bench_dir, "alloc_check")], env=child_env(alloc),
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        alloc.problem = "alloc_check hung"
        return
    kv = {}
    for line in p.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            kv.setdefault(k, v)
    if p.returncode != 0:
        alloc.problem = "alloc_check failed (%s)%s" % (describe_status(p.returncode),
                                                      (": " + p.stderr.strip().splitlines()[-1]) if p.stderr.strip() else "")
        return
    if kv.get("roundtrip") != "ok":
        alloc.problem = "malloc/realloc/free round trip failed"
        return
    real = lambda path: os.path.realpath(path) if path not in ("-", "?", None) else path
    provider = real(kv.get("malloc"))
    for fn in ("free", "realloc", "calloc"):
        if real(kv.get(fn)) != provider:
            alloc.problem = "malloc comes from %s but %s from %s" % (provider, fn, kv.get(fn))
            return
    if alloc.lib is None:
        if not os.path.basename(provider or "").startswith("libc.so"):
            alloc.problem = "malloc comes from %s, not libc" % provider
            return
        others = [s for s in ALL_UNIQUE if kv.get("sym." + s, "-") != "-"]
        if others:
            alloc.problem = "another allocator is loaded (%s)" % ", ".join(others)
            return
        alloc.version = "glibc " + (os.confstr("CS_GNU_LIBC_VERSION") or "?").split()[-1]
    else:
        if provider != os.path.realpath(alloc.lib):
            alloc.problem = "preload did not take: malloc comes from %s" % provider
            return
        sym = UNIQUE_SYMBOL.get(alloc.name)
        if sym is not None and real(kv.get("sym." + sym)) != provider:
            alloc.problem = "preload did not take: %s not exported by %s" % (sym, alloc.lib)
            return
        alloc.version = kv.get("version", "")
    alloc.provider = provider


# ---- running ------------------------------------------------------------------

def describe_status(code):
    if code is None:
        return "timeout"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return "signal %d" % -code
    return {3: "corruption (exit 3)", 4: "out of memory (exit 4)"}.get(code, "exit %d" % code)


def run_once(argv, env, timeout):
    """Returns (exit code or None on timeout, wall s, user s, sys s,
    maxrss KiB, minor page faults, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        state = {"done": False, "killed": False}
        lock = threading.Lock()
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])

        def kill():
            with lock:
                if not state["done"]:
                    state["killed"] = True
                    os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        with lock:
            state["done"] = True
        timer.cancel()
        out.seek(0)
        err.seek(0)
        code = None if state["killed"] else os.waitstatus_to_exitcode(status)
        return (code, wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss, ru.ru_minflt,
                out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def parse_result(stdout):
    for line in stdout.splitlines():
        if line.startswith("result "):
            return dict(tok.split("=", 1) for tok in line.split()[1:] if "=" in tok)
    return None


class Sample:
    def __init__(self, workload, alloc, rep, threads):
        self.workload, self.alloc, self.rep, self.threads = workload, alloc, rep, threads
        self.status = "ok"
        self.detail = ""
        self.wall = self.user = self.sys = self.cpu = None
        self.maxrss = None        # KiB
        self.maxrss_wait4 = None  # KiB
        self.minflt = None        # minor page faults (wait4)
        self.result = {}


def run_sample(w, alloc, rep, threads, scale, bench_dir, timeout, name=None):
    prog, mode = w[1], w[2]
    argv = [os.path.join(bench_dir, prog)] + mode + ["%g" % scale, str(threads)]
    s = Sample(name or w[0], alloc.name, rep, threads)
    code, wall, user, sys_, maxrss, minflt, out, err = run_once(argv, child_env(alloc), timeout)
    s.wall, s.user, s.sys, s.cpu, s.maxrss, s.minflt = wall, user, sys_, user + sys_, maxrss, minflt
    res = parse_result(out)
    errtail = " | ".join(err.strip().splitlines()[-3:])
    if code != 0:
        s.status = "FAIL"
        s.detail = describe_status(code) + ((": " + errtail) if errtail else "")
    elif res is None:
        s.status = "FAIL"
        s.detail = "no result line" + ((": " + errtail) if errtail else "")
    elif os.path.realpath(res.get("malloc_lib", "?")) != alloc.provider:
        s.status = "FAIL"
        s.detail = "ran with malloc from %s, expected %s" % (res.get("malloc_lib"), alloc.provider)
    if res:
        s.result = res
    # Peak RSS: the workload's own VmHWM (reset by exec). wait4's ru_maxrss
    # would include the RSS of this Python process, which the child had
    # before exec; it stays in the CSV as maxrss_wait4_kb.
    s.maxrss_wait4 = maxrss
    try:
        s.maxrss = int(res["hwm_kb"])
    except (TypeError, KeyError, ValueError):
        pass
    return s


# ---- statistics and reporting ---------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else None


def fmt_num(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.*f" % (digits if x < 1 else 2, x)


def fmt_spread(xs, scale=1.0):
    if not xs:
        return "-"
    v = [x * scale for x in xs]
    if len(v) == 1:
        return fmt_num(v[0])
    return "%s (%s–%s)" % (fmt_num(statistics.median(v)), fmt_num(min(v)), fmt_num(max(v)))


def fmt_ratio(r):
    if r is None:
        return "-"
    return "%.2f" % r if r < 10 else "%.1f" % r


def geomean(xs):
    xs = [x for x in xs if x is not None and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def machine_notes(args, allocs, build):
    notes = []
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    notes.append("CPU: %s; %d cores online, %d usable (nproc); memory %s" %
                 (model, os.cpu_count() or 0, len(os.sched_getaffinity(0)), mem))
    notes.append("Kernel: %s %s; %s" % (os.uname().sysname, os.uname().release,
                                          os.confstr("CS_GNU_LIBC_VERSION") or "libc ?"))
    pk = []
    for name in ("jemalloc", "tcmalloc", "mimalloc"):
        pkg = PEER_PACKAGES[name][0]
        v = cmd_output(["dpkg-query", "-W", "-f=${Version}", pkg]) or "not installed"
        pk.append("%s %s" % (pkg, v))
    notes.append("Peer packages: " + ", ".join(pk))
    commit = cmd_output(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"]) or "none (no commit yet)"
    dirty = cmd_output(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "include", "CMakeLists.txt"])
    notes.append("gomalloc: commit %s%s; library %s" % (commit, " + uncommitted changes in src/include" if dirty else "",
                                                        os.path.join(build, "libgomalloc.so")))
    cc, btype = "?", "?"
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_C_COMPILER:"):
                    cc = line.split("=", 1)[1].strip()
                elif line.startswith("CMAKE_BUILD_TYPE:"):
                    btype = line.split("=", 1)[1].strip()
    except OSError:
        pass
    ccv = cmd_output([cc, "--version"]).splitlines()[:1] if cc != "?" else []
    notes.append("Build: %s, %s" % (btype, ccv[0] if ccv else cc))
    notes.append("Load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    notes.append("Run: %s, repeats %d, threads %d for the multi-threaded workloads, scale x%g, timeout %d s" %
                 ("QUICK" if args.quick else "default", args.repeats, args.threads, args.scale, args.timeout))
    return notes


def build_report(args, allocs, refused, samples, notes, elapsed, started):
    names = [a.name for a in allocs]
    base = "gomalloc" if "gomalloc" in names else (names[0] if names else None)
    by = {}
    for s in samples:
        by.setdefault((s.workload, s.alloc), []).append(s)
    wl_names = [w[0] for w in args.workloads]
    wl_threads = {}
    for s in samples:
        wl_threads[s.workload] = s.threads

    def ok(wl, a):
        return [s for s in by.get((wl, a), []) if s.status == "ok"]

    def failed(wl, a):
        return [s for s in by.get((wl, a), []) if s.status != "ok"]

    def cell(wl, a, key, scale=1.0):
        good = ok(wl, a)
        if failed(wl, a) and not good:
            return "**FAIL**"
        v = [getattr(s, key) for s in good]
        txt = fmt_spread(v, scale)
        if failed(wl, a):
            txt += " (+fail)"
        return txt

    def median_of(wl, a, key):
        v = [getattr(s, key) for s in ok(wl, a) if not failed(wl, a)]
        return med(v)

    L = []
    L.append("# gomalloc benchmark: %s%s" % (started.strftime("%Y-%m-%d %H:%M:%S"), " (QUICK)" if args.quick else ""))
    L.append("")
    for n in notes:
        L.append("- " + n)
    for a in allocs:
        L.append("- Allocator %s: %s%s" % (a.name, a.lib or "(no preload)", (" — " + a.version) if a.version else ""))
    for a in refused:
        L.append("- **Refused %s**: %s" % (a.name, a.problem))
    L.append("- Whole run took %.0f s; load average at end: %s" %
             (elapsed, " ".join("%.2f" % x for x in os.getloadavg())))
    L.append("")
    if not allocs:
        L.append("No allocator could be measured.")
        return "\n".join(L) + "\n", {"wall": {}, "maxrss": {}}, None, []

    head = "| workload | thr | " + " | ".join(names) + " |"
    sep = "|---|---:|" + "---:|" * len(names)

    L.append("## Wall time, seconds: median (min–max)")
    L.append("")
    L.append(head)
    L.append(sep)
    for wl in wl_names:
        L.append("| %s | %s | %s |" % (wl, wl_threads.get(wl, "?"), " | ".join(cell(wl, a, "wall") for a in names)))
    L.append("")

    peers = [a for a in names if a != base]
    rhead = "| workload | " + " | ".join(peers) + " |"
    rsep = "|---|" + "---:|" * len(peers)

    def ratio(wl, a, key):
        b, v = median_of(wl, base, key), median_of(wl, a, key)
        if b is None or v is None or b <= 0:
            return None
        return v / b

    ratios = {"wall": {}, "maxrss": {}}
    if peers:
        L.append("## Time ratio: allocator / %s (median wall time; above 1 = %s is faster)" % (base, base))
        L.append("")
        L.append(rhead)
        L.append(rsep)
        for wl in wl_names:
            row = []
            for a in peers:
                r = ratio(wl, a, "wall")
                ratios["wall"][(wl, a)] = r
                row.append(fmt_ratio(r) if r is not None else
                           ("%s fails" % base if failed(wl, base) else ("fails" if failed(wl, a) else "-")))
            L.append("| %s | %s |" % (wl, " | ".join(row)))
        gm = [geomean([ratios["wall"].get((wl, a)) for wl in wl_names if wl not in NO_TIME_GEOMEAN]) for a in peers]
        L.append("| **geomean** (w/o %s) | %s |" % (", ".join(sorted(NO_TIME_GEOMEAN)),
                                                 " | ".join("**%s**" % fmt_ratio(g) for g in gm)))
        L.append("")

    L.append("## Peak RSS, MiB: median (min–max)")
    L.append("")
    L.append(head)
    L.append(sep)
    for wl in wl_names:
        L.append("| %s | %s | %s |" % (wl, wl_threads.get(wl, "?"),
                                       " | ".join(cell(wl, a, "maxrss", 1 / 1024) for a in names)))
    L.append("")
    if peers:
        L.append("## RSS ratio: allocator / %s (median peak RSS; above 1 = %s uses less)" % (base, base))
        L.append("")
        L.append(rhead)
        L.append(rsep)
        for wl in wl_names:
            row = []
            for a in peers:
                r = ratio(wl, a, "maxrss")
                ratios["maxrss"][(wl, a)] = r
                row.append(fmt_ratio(r) if r is not None else
                           ("%s fails" % base if failed(wl, base) else ("fails" if failed(wl, a) else "-")))
            L.append("| %s | %s |" % (wl, " | ".join(row)))
        gm = [geomean([ratios["maxrss"].get((wl, a)) for wl in wl_names]) for a in peers]
        L.append("| **geomean** | %s |" % " | ".join("**%s**" % fmt_ratio(g) for g in gm))
        L.append("")

    L.append("## CPU time (user+sys), seconds: median (min–max)")
    L.append("")
    L.append(head)
    L.append(sep)
    for wl in wl_names:
        L.append("| %s | %s | %s |" % (wl, wl_threads.get(wl, "?"), " | ".join(cell(wl, a, "cpu") for a in names)))
    L.append("")

    # workload-specific numbers
    def extra(wl, a, key):
        v = []
        for s in ok(wl, a):
            try:
                v.append(float(s.result[key]))
            except (KeyError, ValueError):
                pass
        return med(v)

    if "phase" in wl_names:
        L.append("## Memory phase change (phase): medians, MiB")
        L.append("")
        L.append("| allocator | peak | after shrink | settled (after %s s) | still live | after regrow |" %
                 (next((s.result.get("settle_s") for s in samples if s.workload == "phase" and s.result), "?")))
        L.append("|---|---:|---:|---:|---:|---:|")
        for a in names:
            vals = [extra("phase", a, k) for k in ("peak_rss_kb", "shrink_rss_kb", "settled_rss_kb", "live_kb", "regrow_rss_kb")]
            L.append("| %s | %s |" % (a, " | ".join(fmt_num(v / 1024) if v is not None else "-" for v in vals)))
        L.append("")
    if "falseshare" in wl_names:
        L.append("## False sharing (falseshare): cache lines holding blocks of two threads, median (0 is ideal)")
        L.append("")
        L.append("| allocator | active | passive |")
        L.append("|---|---:|---:|")
        for a in names:
            v = [extra("falseshare", a, k) for k in ("shared_lines_active", "shared_lines_passive")]
            L.append("| %s | %s |" % (a, " | ".join("-" if x is None else "%g" % x for x in v)))
        L.append("")

    big = [wl for wl in ("bigbuf", "bigset", "pairs-large") if wl in wl_names]
    if big:
        L.append("## Minor page faults of the big-block workloads, thousands: median (a fault per 4 KiB "
                 "page an allocator gave back and the program wrote again)")
        L.append("")
        L.append("| workload | " + " | ".join(names) + " |")
        L.append("|---|" + "---:|" * len(names))
        for wl in big:
            L.append("| %s | %s |" % (wl, " | ".join(cell(wl, a, "minflt", 1 / 1000) for a in names)))
        L.append("")
    if "replace-mt" in wl_names:
        L.append("## Random replacement on %s threads (replace-mt): RSS once every thread has freed half its "
                 "blocks, MiB (median)" % wl_threads.get("replace-mt", "?"))
        L.append("")
        L.append("| allocator | RSS, half freed | ratio to %s |" % base)
        L.append("|---|---:|---:|")
        b = extra("replace-mt", base, "half_rss_kb")
        for a in names:
            v = extra("replace-mt", a, "half_rss_kb")
            L.append("| %s | %s | %s |" % (a, fmt_num(v / 1024) if v is not None else "-",
                                           fmt_ratio(v / b) if v is not None and b else "-"))
        L.append("")
    if args.scaling:
        L.extend(scaling_table(args, names, samples))
    problems = [s for s in samples if s.status != "ok"]
    L.append("## Failures")
    L.append("")
    if not problems:
        L.append("None: every run exited 0, verified its data and reported the expected allocator and checksum.")
    for s in problems:
        L.append("- %s / %s (repeat %d): %s" % (s.workload, s.alloc, s.rep + 1, s.detail.replace("|", "\\|")))
    L.append("")
    L.append("How to read: see bench/README.md. Times are wall-clock medians of the repeats, spread in brackets; "
             "ratios divide an allocator's median by %s's. Runs were interleaved across allocators." % base)
    return "\n".join(L) + "\n", ratios, base, peers


def scaling_name(wl, kind):
    return "%s@%s" % (wl, kind)  # kind: 1t, 2t, or 2p (two 1-thread processes)


def scaling_table(args, names, samples):
    """Per-operation CPU time of 2 threads, and of 2 processes, over 1
    thread, per allocator: the median over the repeats of each repeat's
    ratio (its runs ran back to back, so slow drifts of the machine cancel),
    start-up CPU (median of the start runs) subtracted from every run."""
    by = {}
    for s in samples:
        if s.status == "ok":
            by.setdefault((s.workload, s.alloc, s.rep), []).append(s)

    def start_cpu(a):
        return med([s.cpu for (wl, al, _), ss in by.items() for s in ss
                    if wl == scaling_name("start", "1t") and al == a]) or 0.0

    def per_op(ss, base, n):
        """CPU per operation of the runs ss (n of them expected)."""
        if ss is None or len(ss) != n:
            return None
        try:
            ops = sum(float(s.result["ops"]) for s in ss)
        except (KeyError, ValueError):
            return None
        cpu = sum(s.cpu for s in ss) - n * base
        return cpu / ops if ops > 0 and cpu > 0 else None

    L = ["## Two threads against one: CPU time (user+sys) per operation of 2 threads / 1 thread, "
         "and in brackets of 2 processes at once / 1, median of the repeats", "",
         "Each thread does the same work in every run (the 2-thread run twice the total); the start-up "
         "CPU of the same program with no work is subtracted. Two 1-thread processes at once share only "
         "the machine (caches, memory bandwidth, other load); what two threads cost above them is the "
         "allocator's. Issue 16's target: 2 threads at most 1.05.", "",
         "| workload | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    cols = {a: ([], []) for a in names}
    for w in args.scaling:
        row = []
        for a in names:
            base = start_cpu(a)
            rt, rp = [], []
            for rep in range(args.repeats):
                p1 = per_op(by.get((scaling_name(w[0], "1t"), a, rep)), base, 1)
                p2 = per_op(by.get((scaling_name(w[0], "2t"), a, rep)), base, 1)
                pp = per_op(by.get((scaling_name(w[0], "2p"), a, rep)), base, 2)
                if p1 and p2:
                    rt.append(p2 / p1)
                if p1 and pp:
                    rp.append(pp / p1)
            t, p = med(rt), med(rp)
            cols[a][0].append(t)
            cols[a][1].append(p)
            row.append("%s (%s)" % (fmt_ratio(t), fmt_ratio(p)))
        L.append("| %s | %s |" % (w[0], " | ".join(row)))
    L.append("| **geomean** | %s |" % " | ".join("**%s** (%s)" % (fmt_ratio(geomean(cols[a][0])),
                                                                    fmt_ratio(geomean(cols[a][1]))) for a in names))
    L.append("")
    return L


def check_checksums(samples):
    """Marks samples whose checksum differs from the one most allocators got
    (every workload's checksum is independent of the allocator)."""
    by = {}
    for s in samples:
        if s.status == "ok" and "checksum" in s.result:
            by.setdefault(s.workload, []).append(s)
    for wl, ss in by.items():
        counts = {}
        for s in ss:
            counts[s.result["checksum"]] = counts.get(s.result["checksum"], 0) + 1
        ref = max(counts, key=lambda c: (counts[c], any(x.alloc == "glibc" and x.result["checksum"] == c for x in ss)))
        for s in ss:
            if s.result["checksum"] != ref:
                s.status = "FAIL"
                s.detail = "wrong checksum %s (others: %s)" % (s.result["checksum"], ref)


def write_csv(path, samples, started):
    keys = sorted({k for s in samples for k in s.result if k not in STANDARD_KEYS})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["started", "workload", "allocator", "repeat", "threads", "status", "wall_s", "cpu_s", "user_s",
                    "sys_s", "hwm_kb", "maxrss_wait4_kb", "minflt", "internal_s", "ops", "checksum"] + keys + ["detail"])
        for s in samples:
            w.writerow([started.isoformat(timespec="seconds"), s.workload, s.alloc, s.rep + 1, s.threads, s.status,
                        "%.4f" % s.wall, "%.4f" % s.cpu, "%.4f" % s.user, "%.4f" % s.sys, s.maxrss, s.maxrss_wait4, s.minflt,
                        s.result.get("time_s", ""), s.result.get("ops", ""), s.result.get("checksum", "")] +
                       [s.result.get(k, "") for k in keys] + [s.detail])


def write_chart(path, wl_names, peers, base, ratios, title):
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return "gnuplot not installed: no chart"
    if not peers:
        return "only one allocator: no chart"
    tmp = tempfile.mkdtemp(prefix="gmbench-")
    try:
        span = 1
        for kind in ("wall", "maxrss"):
            with open(os.path.join(tmp, kind + ".dat"), "w") as f:
                for wl in wl_names:
                    vals = []
                    for a in peers:
                        r = ratios[kind].get((wl, a))
                        vals.append("%.4f" % math.log2(r) if r else "?")
                        if r:
                            span = max(span, math.ceil(abs(math.log2(r)) - 0.01))
                    f.write("%s %s\n" % (wl, " ".join(vals)))
        term = "pngcairo size 1600,1000 font 'sans,10'"
        p = subprocess.run([gnuplot, "-e", "set terminal"], capture_output=True, text=True)
        if "pngcairo" not in p.stdout + p.stderr:
            term = "png size 1600,1000"
        span = min(span, 10)
        tics = ", ".join('"%s" %d' % (("1/%d" % 2 ** -e) if e < 0 else str(2 ** e), e) for e in range(-span, span + 1))
        plots = ", ".join("'%%s' using %d:xtic(1) title '%s'" % (i + 2, a) for i, a in enumerate(peers))
        script = """
set terminal %(term)s
set output '%(out)s'
set datafile missing '?'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left horizontal reverse Left
set grid ytics
set xtics rotate by -35 nomirror
set ytics (%(tics)s)
set yrange [%(lo)g:%(hi)g]
set xzeroaxis lt -1 lw 2
set multiplot layout 2,1 title "%(title)s"
set title "Time: allocator / %(base)s (log scale; bars up = %(base)s faster)"
plot %(pw)s
set title "Peak RSS: allocator / %(base)s (log scale; bars up = %(base)s smaller)"
plot %(pr)s
unset multiplot
""" % {"term": term, "out": path, "tics": tics, "title": title.replace('"', "'"), "base": base, "lo": -span - 0.2, "hi": span + 0.2,
            "pw": plots.replace("%s", os.path.join(tmp, "wall.dat")),
            "pr": plots.replace("%s", os.path.join(tmp, "maxrss.dat"))}
        with open(os.path.join(tmp, "chart.gp"), "w") as f:
            f.write(script)
        p = subprocess.run([gnuplot, os.path.join(tmp, "chart.gp")], capture_output=True, text=True)
        if p.returncode != 0:
            return "gnuplot failed: " + p.stderr.strip()[-300:]
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="CMake build directory")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    bench_dir = os.path.join(build, "bench")
    env = os.environ
    args.quick = env.get("QUICK", "0") not in ("", "0")
    args.repeats = int(env.get("REPEATS") or (2 if args.quick else 5))
    args.threads = int(env.get("THREADS") or len(os.sched_getaffinity(0)))
    args.scale = float(env.get("SCALE") or 1.0)
    args.timeout = int(env.get("TIMEOUT") or (30 if args.quick else 120))
    results_dir = env.get("RESULTS_DIR") or os.path.join(HERE, "results")
    wanted = env.get("WORKLOADS", "").split()
    args.workloads = [w for w in WORKLOADS if not wanted or w[0] in wanted]
    # "scaling" in WORKLOADS: all the two-threads-against-one runs
    args.scaling = [w for w in SCALING if not wanted or w[0] in wanted or "scaling" in wanted]
    if env.get("SCALING", "1") in ("", "0"):
        args.scaling = []
    unknown = set(wanted) - {w[0] for w in WORKLOADS} - {"scaling"}
    if unknown:
        log("bench: unknown workloads %s (known: %s)" % (" ".join(sorted(unknown)), " ".join(w[0] for w in WORKLOADS)))
        return 2
    if args.repeats < 1 or args.threads < 1:
        log("bench: REPEATS and THREADS must be at least 1")
        return 2
    for w in args.workloads + args.scaling:
        if not os.access(os.path.join(bench_dir, w[1]), os.X_OK):
            log("bench: %s missing: build the bench programs first (cmake --build %s --target bench_programs)" %
                (os.path.join(bench_dir, w[1]), build))
            return 1

    started = datetime.datetime.now()
    t_start = time.perf_counter()
    allocs = resolve_allocators(env.get("ALLOCATORS") or " ".join(KNOWN_ALLOCATORS), build)
    for a in allocs:
        check_allocator(a, bench_dir)
    refused = [a for a in allocs if a.problem]
    allocs = [a for a in allocs if not a.problem]
    for a in refused:
        log("bench: REFUSED %s: %s" % (a.name, a.problem))
    for a in allocs:
        log("bench: %-9s ok, malloc from %s %s" % (a.name, a.provider, a.version))
    notes = machine_notes(args, allocs, build)

    samples = []
    dead = set()  # (workload, allocator) that failed once: not run again
    total_runs = (sum(min(args.repeats, w[6] or args.repeats) for w in args.workloads) +
                  (args.repeats * (1 + 3 * len(args.scaling)) if args.scaling else 0)) * len(allocs)
    done = 0
    for w in args.workloads:
        name, _, _, tkind, scale, qscale, maxrep, _ = w
        threads = max(2, args.threads) if tkind == "T" else int(tkind)
        s_scale = (qscale if args.quick else scale) * args.scale
        reps = min(args.repeats, maxrep or args.repeats)
        for rep in range(reps):
            for a in allocs:
                done += 1
                if (name, a.name) in dead:
                    continue
                s = run_sample(w, a, rep, threads, s_scale, bench_dir, args.timeout)
                samples.append(s)
                log("[%3d/%d] %-14s %-9s %7.3fs cpu %7.3fs rss %7.1f MiB %s" %
                    (done, total_runs, name, a.name, s.wall, s.cpu, s.maxrss / 1024,
                     "" if s.status == "ok" else "FAIL: " + s.detail))
                if s.status != "ok":
                    dead.add((name, a.name))
    # two threads against one: per repeat and allocator, the start-up run,
    # then each workload with 1 thread, as two 1-thread processes at once,
    # and with 2 threads
    runs = [(SCALING_START, "1t", SCALING_START[3])] if args.scaling else []
    for w in args.scaling:
        sc = (w[4] if args.quick else w[3]) * args.scale
        runs += [(w, "1t", sc), (w, "2p", sc), (w, "2t", 2 * sc)]
    for rep in range(args.repeats if runs else 0):
        for a in allocs:
            for w, kind, sc in runs:
                done += 1
                name = scaling_name(w[0], kind)
                if (name, a.name) in dead:
                    continue
                if kind == "2p":
                    other = []
                    t = threading.Thread(target=lambda: other.append(
                        run_sample(w, a, rep, 1, sc, bench_dir, args.timeout, name)))
                    t.start()
                    got = [run_sample(w, a, rep, 1, sc, bench_dir, args.timeout, name)]
                    t.join()
                    got += other
                else:
                    got = [run_sample(w, a, rep, 2 if kind == "2t" else 1, sc, bench_dir, args.timeout, name)]
                samples += got
                bad = [s for s in got if s.status != "ok"]
                log("[%3d/%d] %-14s %-9s %7.3fs cpu %7.3fs rss %7.1f MiB %s" %
                    (done, total_runs, name, a.name, max(s.wall for s in got), sum(s.cpu for s in got),
                     max(s.maxrss for s in got) / 1024, "FAIL: " + bad[0].detail if bad else ""))
                if bad:
                    dead.add((name, a.name))
    check_checksums(samples)
    elapsed = time.perf_counter() - t_start

    report, ratios, base, peers = build_report(args, allocs, refused, samples, notes, elapsed, started)
    os.makedirs(results_dir, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    md, csvp, png = (os.path.join(results_dir, stamp + ext) for ext in (".md", ".csv", ".png"))
    chart_problem = write_chart(png, [w[0] for w in args.workloads], peers, base, ratios,
                                "gomalloc benchmark %s%s" % (started.strftime("%Y-%m-%d %H:%M"),
                                                             " (QUICK)" if args.quick else ""))
    if chart_problem:
        report += "\nChart: %s\n" % chart_problem
    else:
        report += "\nChart: %s (latest.png); raw samples: %s (latest.csv)\n" % (os.path.basename(png),
                                                                             os.path.basename(csvp))
    with open(md, "w") as f:
        f.write(report)
    write_csv(csvp, samples, started)
    shutil.copyfile(md, os.path.join(results_dir, "latest.md"))
    shutil.copyfile(csvp, os.path.join(results_dir, "latest.csv"))
    if not chart_problem:
        shutil.copyfile(png, os.path.join(results_dir, "latest.png"))
    sys.stdout.write(report)
    log("bench: results in %s (and latest.*), %.0f s" % (md, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

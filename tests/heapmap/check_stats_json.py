#!/usr/bin/env python3
"""check_stats_json.py CLI OUTDIR: `gomalloc run --stats=json` output is
JSON, and its numbers add up as gm_stats promises (a program exiting is
quiescent, so allocs - frees == objects exactly)."""
import json
import subprocess
import sys

cli, out = sys.argv[1], sys.argv[2]
failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", msg)


def run(args):
    path = f"{out}/stats.json"
    rc = subprocess.run([cli, "run", "--stats=json", "--stats-file", path, "--"] + args).returncode
    check(rc == 0, f"{args} exited {rc}")
    with open(path) as f:
        return json.load(f)  # raises (fails the test) on invalid JSON


for prog in (["ls", "-lR", "/usr/include"], ["sort", "/etc/passwd"], ["/bin/true"]):
    d = run(prog)
    h, c, cls = d["heap"], d["counts"], d["classes"]
    name = prog[0]
    check(d["version"] == 1 and len(cls) == 68, f"{name}: version/classes")
    check([k["class"] for k in cls] == list(range(68)), f"{name}: class order")
    check(c["spans"] == c["small_spans"] + c["large_spans"], f"{name}: spans")
    check(c["small_spans"] == c["cached_spans"] + c["partial_spans"] + c["full_spans"],
          f"{name}: span states")
    check(h["mapped_bytes"] == h["span_bytes"] + h["free_bytes"], f"{name}: mapped")
    check(h["released_bytes"] <= h["free_bytes"], f"{name}: released")
    for key, field in (("spans", "spans"), ("objects", "objects"), ("allocs", "allocs"),
                       ("frees", "frees")):
        check(sum(k[field] for k in cls) == c[key], f"{name}: sum of {field}")
    check(sum(k["span_bytes"] for k in cls) == h["span_bytes"], f"{name}: span bytes")
    check(sum(k["in_use_bytes"] for k in cls) == h["object_bytes"], f"{name}: object bytes")
    check(c["allocs"] - c["frees"] == c["objects"],
          f"{name}: allocs {c['allocs']} - frees {c['frees']} != objects {c['objects']}")
    for k in cls[1:]:
        check(k["objects"] + k["free_objects"] == k["spans"] * k["objects_per_span"],
              f"{name}: class {k['class']} slots")
        check(k["in_use_bytes"] == k["objects"] * k["size"], f"{name}: class {k['class']} bytes")
        check(k["allocs"] - k["frees"] == k["objects"], f"{name}: class {k['class']} counts")
        check(k["tail_waste"] == k["span_size"] - k["objects_per_span"] * k["size"],
              f"{name}: class {k['class']} tail")
    check(cls[1]["size"] == 8 and cls[1]["max_waste"] == 87.5, f"{name}: class 1 geometry")
    check(cls[67]["size"] == 32768 and cls[67]["span_size"] == 32768, f"{name}: class 67")
    if name != "/bin/true":
        check(c["allocs"] > 0 and c["arenas"] >= 1, f"{name}: no allocations seen")
    print(f"{name}: {c['spans']} spans, {c['objects']} objects, {c['allocs']} allocs")

print("FAIL" if failures else "PASS")
sys.exit(1 if failures else 0)

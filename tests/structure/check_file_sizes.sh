#!/usr/bin/env bash
# check_file_sizes.sh ROOT
#
# One job per file: no source file of the library or its tools is over
# 650 lines. pagealloc.c is the one exception, as Go keeps mpagealloc.go
# whole: the radix tree of summaries is one piece of reasoning.
set -u
root=${1:?usage: check_file_sizes.sh ROOT}
limit=650
passed=0 failed=0
for path in "$root"/src/*.[ch] "$root"/tools/*.[ch]; do
  f=$(basename "$path")
  [[ $f == pagealloc.c ]] && continue
  n=$(wc -l <"$path")
  if ((n > limit)); then
    echo "FAIL ${path#"$root"/}: $n lines (over $limit: is it still one job?)"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
done
echo "$passed passed, $failed failed"
((failed == 0))

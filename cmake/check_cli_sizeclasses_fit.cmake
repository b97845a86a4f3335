# check_cli_sizeclasses_fit.cmake: CTest cli.sizeclasses_fit. `gomalloc
# sizeclasses --fit DIR` on histograms whose best table is known, then the
# round trip: the printed table, loaded with GOMALLOC_SIZECLASSES, gives
# those requests slots of their own size.
#   cmake -DCLI=<gomalloc> -DPROBE=<usable_size_probe> -DDIR=<scratch dir>
#         -P check_cli_sizeclasses_fit.cmake
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}/p40" "${DIR}/p832" "${DIR}/bad")

# fit(NAME HIST FLAGS...): writes ${DIR}/NAME.tsv, the table, and checks the exit status.
function(fit name)
  execute_process(COMMAND "${CLI}" sizeclasses --fit "${DIR}/${name}" ${ARGN}
    OUTPUT_FILE "${DIR}/${name}.tsv" ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gomalloc sizeclasses --fit ${name} ${ARGN} exited ${rc}: ${err}")
  endif()
  file(READ "${DIR}/${name}.tsv" out)
  set(out "${out}" PARENT_SCOPE)
endfunction()

# probe(TABLE ALIGN8 SIZE WANT): malloc(SIZE) under the table has WANT usable bytes.
function(probe table align8 size want)
  set(ENV{GOMALLOC_SIZECLASSES} "${table}")
  set(ENV{GOMALLOC_ALIGN8} "${align8}")
  execute_process(COMMAND "${PROBE}" ${size} OUTPUT_VARIABLE got ERROR_VARIABLE err
    RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  unset(ENV{GOMALLOC_SIZECLASSES})
  unset(ENV{GOMALLOC_ALIGN8})
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(FATAL_ERROR "probe under ${table}: exit ${rc}, stderr: ${err}")
  endif()
  if(got STREQUAL "debug")
    message(STATUS "debug build: usable size is the request; slot sizes not checked")
  elseif(NOT got STREQUAL "${want}")
    message(FATAL_ERROR "malloc(${size}) under ${table} (GOMALLOC_ALIGN8=${align8}): ${got} usable bytes, want ${want}")
  endif()
endfunction()

# All requests 40 B: Go rounds them to 48 (to 48 with ALIGN8 too: Go has no
# 40-byte class); the 8-byte aligned fit has a 40-byte class and no waste.
file(WRITE "${DIR}/p40/sizes.tsv" "lo\thi\tcount\tbytes\n40\t40\t1000000\t40000000\n983041\t1048576\t5\t5000000\n")
fit(p40 --align8)
if(NOT out MATCHES "\n[0-9]+\t40\t8192\t204\t32\t[0-9.]+\t8\n")
  message(FATAL_ERROR "no 40-byte class in the fit:\n${out}")
endif()
if(NOT out MATCHES "# rounding waste with Go's classes:  8000000 B \\(20.00%"
   OR NOT out MATCHES "# rounding waste with these classes: 0 B \\(0.00%\\)")
  message(FATAL_ERROR "expected waste 8000000 B with Go's classes and 0 with the fit:\n${out}")
endif()
probe("${DIR}/p40.tsv" 1 40 40)
probe("${DIR}/p40.tsv" 0 40 48) # 16-byte alignment wins without GOMALLOC_ALIGN8
probe("" 1 40 48)               # Go's table

# The same histogram without --align8: 40 must go to a 16-aligned class, 48.
fit(p40)
if(out MATCHES "\n[0-9]+\t40\t" OR NOT out MATCHES "# rounding waste with these classes: 8000000 B")
  message(FATAL_ERROR "16-aligned fit should keep 48 B for 40 B requests:\n${out}")
endif()

# 832 B is on Go's grid but not one of Go's classes (768, 896).
# Columns found by name; unknown ones ignored.
file(WRITE "${DIR}/p832/sizes.tsv" "count\tlo\tnew\thi\n10\t24\tx\t24\n1000\t832\ty\t832\n")
fit(p832)
if(NOT out MATCHES "\n[0-9]+\t832\t" OR NOT out MATCHES "# rounding waste with these classes: 80 B")
  message(FATAL_ERROR "expected an 832-byte class and 80 B of waste (24 -> 32):\n${out}")
endif()
probe("${DIR}/p832.tsv" 0 832 832)
probe("" 0 832 896)

# 1094 B (python3's most wasted size): Go's steps above 1 KiB are 128 B, so
# only --fine gets a class of 1104 B (16-byte steps everywhere).
file(MAKE_DIRECTORY "${DIR}/p1094")
file(WRITE "${DIR}/p1094/sizes.tsv" "lo\thi\tcount\tbytes\n1094\t1094\t100\t109400\n")
fit(p1094)
if(NOT out MATCHES "# rounding waste with these classes: 5800 B")
  message(FATAL_ERROR "Go's steps: 1094 B should go to 1152 B:\n${out}")
endif()
fit(p1094 --fine)
if(NOT out MATCHES "\n[0-9]+\t1104\t" OR NOT out MATCHES "# rounding waste with these classes: 1000 B")
  message(FATAL_ERROR "--fine: expected a 1104-byte class:\n${out}")
endif()
probe("${DIR}/p1094.tsv" 0 1094 1104)
probe("" 0 1094 1152)

# Deterministic: the same input gives the same bytes.
file(READ "${DIR}/p832.tsv" first)
fit(p832)
if(NOT out STREQUAL first)
  message(FATAL_ERROR "two fits of one histogram differ")
endif()

# A malformed histogram is an error naming the file and line.
file(WRITE "${DIR}/bad/sizes.tsv" "lo\thi\tcount\n40\t40\t10\n48\t48 3\n")
execute_process(COMMAND "${CLI}" sizeclasses --fit "${DIR}/bad" OUTPUT_VARIABLE out
  ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT err MATCHES "bad/sizes.tsv:3: not as many fields" OR NOT out STREQUAL "")
  message(FATAL_ERROR "malformed histogram: exit ${rc}, stderr: ${err}")
endif()
execute_process(COMMAND "${CLI}" sizeclasses --fit "${DIR}/none" ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 1 OR NOT err MATCHES "none/sizes.tsv")
  message(FATAL_ERROR "missing histogram: exit ${rc}, stderr: ${err}")
endif()
message(STATUS "fit and round trip ok")

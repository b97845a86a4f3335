# check_cli_sizeclasses_tsv.cmake: CTest cli.sizeclasses_tsv. `gomalloc
# sizeclasses --tsv` must print Go's table exactly, and the checked-in copy
# must equal the design copy whenever that one is present.
#   cmake -DCLI=<gomalloc> -DOUT=<output file> -DREF=<checked-in TSV> -DSHARED=<design TSV>
#         -P check_cli_sizeclasses_tsv.cmake
execute_process(COMMAND "${CLI}" sizeclasses --tsv OUTPUT_FILE "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gomalloc sizeclasses --tsv exited with ${rc}")
endif()
find_program(DIFF diff)
foreach(pair "${OUT};${REF}" "${REF};${SHARED}")
  list(GET pair 0 a)
  list(GET pair 1 b)
  if(NOT EXISTS "${b}")
    message(STATUS "${b} not found; compared against the checked-in copy only")
    continue()
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${a}" "${b}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    if(DIFF)
      execute_process(COMMAND "${DIFF}" -u "${b}" "${a}")
    endif()
    message(FATAL_ERROR "${a} differs from ${b}")
  endif()
  message(STATUS "${a} matches ${b}")
endforeach()

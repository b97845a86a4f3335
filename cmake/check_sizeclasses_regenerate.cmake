# check_sizeclasses_regenerate.cmake: CTest sizeclasses.regenerate. Runs
# mksizeclasses into a scratch dir and requires the checked-in
# src/sizeclasses.{h,c} to be byte-for-byte what it writes.
#   cmake -DGEN=<mksizeclasses> -DOUT=<scratch dir> -DSRC=<src dir>
#         -P check_sizeclasses_regenerate.cmake
file(REMOVE_RECURSE "${OUT}")
file(MAKE_DIRECTORY "${OUT}")
execute_process(COMMAND "${GEN}" "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mksizeclasses failed: ${rc}")
endif()
find_program(DIFF diff)
foreach(f sizeclasses.h sizeclasses.c)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${OUT}/${f}" "${SRC}/${f}"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    if(DIFF)
      execute_process(COMMAND "${DIFF}" -u "${SRC}/${f}" "${OUT}/${f}")
    endif()
    message(FATAL_ERROR "src/${f} is not what tools/mksizeclasses.c generates; "
      "regenerate with: cmake --build <builddir> --target sizeclasses-regen")
  endif()
endforeach()
message(STATUS "src/sizeclasses.h and src/sizeclasses.c are up to date")

# check_cli_usage.cmake: CTest cli.usage. Help exits 0; anything the CLI
# does not know exits 2 with a message on stderr.
#   cmake -DCLI=<gomalloc> -P check_cli_usage.cmake
set(cases
  "0|--help" "0|help" "0|help|sizeclasses" "0|sizeclasses|--help" "0|sizeclasses" "0|--version"
  "2|" "2|nosuchcommand" "2|--nosuchflag" "2|sizeclasses|--nosuchflag" "2|sizeclasses|--fit"
  "2|sizeclasses|--align8" "2|sizeclasses|--fine" "2|sizeclasses|extra"
  "2|help|nosuchcommand" "0|report|--help" "0|help|report" "2|report" "2|report|--nosuchflag"
  "2|report|a|b")
foreach(c IN LISTS cases)
  string(REPLACE "|" ";" args "${c}")
  list(POP_FRONT args want)
  list(FILTER args EXCLUDE REGEX "^$")
  execute_process(COMMAND "${CLI}" ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL want)
    message(FATAL_ERROR "gomalloc ${args}: exit ${rc}, want ${want}\n${out}${err}")
  endif()
  if(want STREQUAL "2" AND err STREQUAL "")
    message(FATAL_ERROR "gomalloc ${args}: exit 2 without a message on stderr")
  endif()
endforeach()
message(STATUS "all usage cases passed")

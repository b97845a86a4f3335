# gen_manpage.cmake: a man page from its template (docs/gomalloc.[13].in):
# @GM_VERSION@ becomes the version and the line @GM_MAN_OPTIONS@ the option
# list `gomalloc man-options` prints from the library's table, so the page
# lists what the library parses.
#   cmake -DCLI=<gomalloc> -DIN=<template> -DOUT=<page> -DVERSION=<x.y.z> -P gen_manpage.cmake
execute_process(COMMAND "${CLI}" man-options RESULT_VARIABLE rc OUTPUT_VARIABLE options
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR options STREQUAL "")
  message(FATAL_ERROR "gomalloc man-options failed (exit ${rc}): ${err}")
endif()
file(READ "${IN}" page)
string(FIND "${page}" "\n@GM_MAN_OPTIONS@\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${IN}: no @GM_MAN_OPTIONS@ line")
endif()
string(REPLACE "\n@GM_MAN_OPTIONS@\n" "\n${options}" page "${page}")
string(REPLACE "@GM_VERSION@" "${VERSION}" page "${page}")
# Written only when changed, so that nothing downstream rebuilds needlessly.
file(CONFIGURE OUTPUT "${OUT}" CONTENT "${page}" @ONLY)

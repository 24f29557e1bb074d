# Runs the FreeBSD TCP suite with `synfin pkt --profile freebsd` and requires every script
# listed in LIST (paths relative to the suite) to pass. Scripts that pass but are not listed
# are named, so that the list can be extended: conformance only ratchets up.
#
# Inputs: -DSYNFIN=<synfin binary> -DSOURCE_DIR=<source tree> -DLIST=<list file>.
# The suite is at $SYNFIN_TCP_TESTSUITE, else ../shared/conformance/tcp-testsuite next to the
# source tree; when it is absent the test reports SKIPPED.

if(DEFINED ENV{SYNFIN_TCP_TESTSUITE} AND NOT "$ENV{SYNFIN_TCP_TESTSUITE}" STREQUAL "")
  set(suite "$ENV{SYNFIN_TCP_TESTSUITE}")
else()
  get_filename_component(suite "${SOURCE_DIR}/../shared/conformance/tcp-testsuite" ABSOLUTE)
endif()
if(NOT IS_DIRECTORY "${suite}")
  message("SKIPPED: no FreeBSD TCP suite at ${suite} (set SYNFIN_TCP_TESTSUITE to its path)")
  return()
endif()

file(STRINGS "${LIST}" listed REGEX "^[^#].*[^ ]")
list(LENGTH listed listed_count)

execute_process(COMMAND "${SYNFIN}" pkt --profile freebsd --json "${suite}"
                OUTPUT_VARIABLE out ERROR_VARIABLE summary RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 AND NOT rc EQUAL 1)
  message(FATAL_ERROR "synfin pkt failed to run (status ${rc}): ${summary}")
endif()
string(STRIP "${summary}" summary)
message("FreeBSD suite, profile freebsd: ${summary}")

# One JSON object per line. Semicolons would split CMake lists: set them aside first.
string(REPLACE ";" "," out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(passing "")
foreach(line IN LISTS lines)
  if(line STREQUAL "")
    continue()
  endif()
  string(JSON path GET "${line}" path)
  string(JSON result GET "${line}" result)
  string(JSON reason GET "${line}" reason)
  string(JSON at GET "${line}" line)
  file(RELATIVE_PATH rel "${suite}" "${path}")
  string(MAKE_C_IDENTIFIER "${rel}" key)
  set(result_${key} "${result}")
  set(reason_${key} "line ${at}: ${reason}")
  if(result STREQUAL "pass")
    list(APPEND passing "${rel}")
  endif()
endforeach()

set(broken 0)
foreach(script IN LISTS listed)
  string(MAKE_C_IDENTIFIER "${script}" key)
  if(NOT DEFINED result_${key})
    message("MISSING ${script}: listed as passing but not in the suite")
    math(EXPR broken "${broken} + 1")
  elseif(NOT result_${key} STREQUAL "pass")
    message("REGRESSED ${script}: ${result_${key}}, ${reason_${key}}")
    math(EXPR broken "${broken} + 1")
  endif()
endforeach()

set(new_count 0)
foreach(script IN LISTS passing)
  list(FIND listed "${script}" idx)
  if(idx EQUAL -1)
    message("NEWLY PASSING (add it to ${LIST}): ${script}")
    math(EXPR new_count "${new_count} + 1")
  endif()
endforeach()

if(broken GREATER 0)
  message(FATAL_ERROR "${broken} of ${listed_count} scripts listed in ${LIST} no longer pass")
endif()
message("all ${listed_count} listed scripts pass; ${new_count} more pass and are not listed yet")

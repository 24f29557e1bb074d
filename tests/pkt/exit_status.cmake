# Checks `synfin pkt`'s exit status and summary: 0 when nothing failed (passes and skips),
# non-zero as soon as one script fails, with --json as without.
#
# Inputs: -DSYNFIN=<synfin binary> -DFIXTURES=<tests/pkt/fixtures> -DDEFINES=<tests/pkt/defines>.

function(expect_run status_kind summary)
  execute_process(COMMAND "${SYNFIN}" pkt --profile synfin ${ARGN}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  set(all "${out}${err}")
  list(JOIN ARGN " " args)
  if(status_kind STREQUAL "zero" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "synfin pkt ${args}: exit status ${rc}, expected 0\n${all}")
  endif()
  if(status_kind STREQUAL "nonzero" AND rc EQUAL 0)
    message(FATAL_ERROR "synfin pkt ${args}: exit status 0, expected non-zero\n${all}")
  endif()
  if(NOT all MATCHES "${summary}")
    message(FATAL_ERROR "synfin pkt ${args}: no '${summary}' in the output\n${all}")
  endif()
  message("ok: synfin pkt ${args} -> status ${rc}, '${summary}'")
endfunction()

expect_run(zero "1 passed, 0 failed, 0 skipped" "${FIXTURES}/passes.pkt")
expect_run(zero "0 passed, 0 failed, 1 skipped" "${FIXTURES}/skips.pkt")
expect_run(zero "1 passed, 0 failed, 1 skipped" "${FIXTURES}/passes.pkt" "${FIXTURES}/skips.pkt")
expect_run(nonzero "0 passed, 1 failed, 0 skipped" "${FIXTURES}/fails.pkt")
expect_run(nonzero "1 passed, 1 failed, 1 skipped" "${FIXTURES}")
expect_run(nonzero "0 passed, 1 failed, 0 skipped" --json "${FIXTURES}/fails.pkt")
# -D replaces the profile's #ifdef names.
expect_run(nonzero "0 passed, 1 failed, 0 skipped" "${DEFINES}/ifdef-alt.pkt")
expect_run(zero "1 passed, 0 failed, 0 skipped" -D ALT "${DEFINES}/ifdef-alt.pkt")
expect_run(nonzero "0 passed, 1 failed, 0 skipped" -D ALT -D STANDARD "${DEFINES}/ifdef-alt.pkt")

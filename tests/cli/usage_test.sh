#!/usr/bin/env bash
# The command line's contract: --help exits 0 and prints usage; a usage error (unknown
# option, missing argument, bad value, no subcommand) exits 1 with a message on stderr and
# nothing on stdout.
# Usage: usage_test.sh SYNFIN
set -u
SYNFIN=$1
fail=0
ERR=$(mktemp)
trap 'rm -f "$ERR"' EXIT
check() {
  local want=$1
  shift
  local out err rc
  out=$("$SYNFIN" "$@" 2>"$ERR")
  rc=$?
  err=$(cat "$ERR")
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: synfin $* exited $rc, expected $want"; fail=1
  elif [ "$want" -eq 0 ] && ! grep -q "Usage:" <<<"$out"; then
    echo "FAIL: synfin $* printed no usage"; fail=1
  elif [ "$want" -ne 0 ] && { [ -z "$err" ] || [ -n "$out" ]; }; then
    echo "FAIL: synfin $*: the error belongs on stderr (stderr '$err', stdout '$out')"; fail=1
  else
    echo "ok: synfin $* -> $rc"
  fi
}
check 0 --help
for c in demo serve get nc pkt bench; do check 0 "$c" --help; done
check 1
check 1 --no-such-option
check 1 no-such-command
check 1 get
check 1 get http://10.0.0.1/ --no-such-option
check 1 bench nothing
check 1 pkt
check 1 pkt --profile nobody .
check 1 demo --lang xx
exit $fail

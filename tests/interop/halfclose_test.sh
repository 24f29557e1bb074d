#!/usr/bin/env bash
# Half-close both ways between socat (the kernel's TCP) and `synfin nc`:
#  A. the kernel sends, shuts down its sending side; synfin, in CLOSE-WAIT, only then sends
#     its 5 MB and closes (synfin goes LAST-ACK -> CLOSED, the kernel FIN-WAIT-2 -> TIME-WAIT);
#  B. synfin sends a little and shuts down first; the kernel keeps sending 5 MB, then closes
#     (synfin goes FIN-WAIT-2 -> TIME-WAIT, the kernel CLOSE-WAIT -> LAST-ACK -> CLOSED).
# All bytes arrive both ways; afterwards no kernel socket is left in FIN-WAIT-2, CLOSE-WAIT
# or LAST-ACK, and synfin reports no connection open.
# With --impaired: the same under 5% loss on the kernel's side and synfin's --impair.
# Usage: halfclose_test.sh SYNFIN [--impaired]
source "$(dirname "$0")/lib.sh"
MODE=${2:-plain}
interop_init halfclose "$1"
START=$(now_ms)
head -c 3000 /dev/urandom >"$WORK/small.bin"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"

IMPAIR=()
if [ "$MODE" = "--impaired" ]; then
  IMPAIR=(--impair "delay=1ms,jitter=1ms,reorder=2%,duplicate=1%,seed=3")
  nsx nft add table inet synfin_loss
  nsx nft add chain inet synfin_loss out '{ type filter hook output priority 0; }'
  nsx nft add rule inet synfin_loss out oifname "$TUN" numgen random mod 100 '<' 5 counter drop
fi

note "A: the kernel half-closes first; synfin sends afterwards, then closes"
start_synfin nc-a nc --tun "$TUN" --addr "$SADDR/24" "${IMPAIR[@]}" --listen 7000 --wait-eof \
  --send "$WORK/big.bin" --recv "$WORK/a-synfin-got.bin" --timeout 30
NC=$SYNFIN_PID
nsx timeout 120 socat -t 60 "OPEN:$WORK/small.bin!!CREATE:$WORK/a-kernel-got.bin" "TCP:$SADDR:7000" ||
  die "socat (A) failed"
rc=0
timeout 60 tail --pid=$NC -f /dev/null || die "synfin nc (A) did not finish"
wait $NC || rc=$?
[ $rc -eq 0 ] || die "synfin nc (A) exited with $rc: $(cat "$WORK/nc-a.log")"
same_file "$WORK/small.bin" "$WORK/a-synfin-got.bin" "A: kernel -> synfin"
same_file "$WORK/big.bin" "$WORK/a-kernel-got.bin" "A: synfin -> kernel (sent after the kernel's FIN)"
grep -q "sent $(stat -c %s "$WORK/big.bin") bytes ($(stat -c %s "$WORK/big.bin") after the peer's FIN)" "$WORK/nc-a.log" ||
  die "A: synfin did not send everything after the kernel's FIN: $(tail -1 "$WORK/nc-a.log")"
grep -q "final state CLOSED; connections open: 0" "$WORK/nc-a.log" || die "A: $(tail -1 "$WORK/nc-a.log")"
assert_no_stuck "A"
echo "    A took $(( $(now_ms) - START )) ms"
echo "    $(tail -1 "$WORK/nc-a.log")"

note "B: synfin half-closes first; the kernel keeps sending, then closes"
ip netns exec "$NS" timeout 120 socat -t 60 "TCP-LISTEN:7001,bind=$KADDR,reuseaddr" \
  "OPEN:$WORK/big.bin!!CREATE:$WORK/b-kernel-got.bin" 2>"$WORK/socat-b.log" &
SOCAT=$!
track $SOCAT
for _ in $(seq 50); do nsx ss -ltnH "sport = :7001" | grep -q . && break; sleep 0.1; done
rc=0
nsx timeout 120 "$SYNFIN" nc --tun "$TUN" --addr "$SADDR/24" "${IMPAIR[@]}" --connect "$KADDR:7001" \
  --send "$WORK/small.bin" --recv "$WORK/b-synfin-got.bin" --timeout 30 2>"$WORK/nc-b.log" || rc=$?
[ $rc -eq 0 ] || die "synfin nc (B) exited with $rc: $(cat "$WORK/nc-b.log")"
timeout 30 tail --pid=$SOCAT -f /dev/null || die "socat (B) did not finish"
wait $SOCAT || die "socat (B) failed: $(cat "$WORK/socat-b.log")"
same_file "$WORK/small.bin" "$WORK/b-kernel-got.bin" "B: synfin -> kernel"
same_file "$WORK/big.bin" "$WORK/b-synfin-got.bin" "B: kernel -> synfin"
after=$(sed -n 's/.*received [0-9]* bytes (\([0-9]*\) after our FIN).*/\1/p' "$WORK/nc-b.log")
[ "${after:-0}" -gt 0 ] || die "B: the kernel sent nothing after synfin's FIN, so the test tested no half-close"
grep -Eq "final state (TIME_WAIT|CLOSED); connections open: 0" "$WORK/nc-b.log" || die "B: $(tail -1 "$WORK/nc-b.log")"
assert_no_stuck "B"
echo "    A+B took $(( $(now_ms) - START )) ms"
echo "    $(tail -1 "$WORK/nc-b.log")"

note "bad input"
rc=0
nsx "$SYNFIN" nc --tun "$TUN" --addr "$SADDR/24" --connect "$KADDR" >/dev/null 2>"$WORK/bad.log" || rc=$?
[ $rc -eq 1 ] && grep -q "not A.B.C.D:PORT" "$WORK/bad.log" || die "a bad --connect gave exit $rc: $(cat "$WORK/bad.log")"
rc=0
nsx "$SYNFIN" nc --tun "$TUN" --addr "$SADDR/24" --connect "$KADDR:7999" --send /dev/null --recv /dev/null 2>"$WORK/ref.log" || rc=$?
[ $rc -eq 3 ] || die "a closed port gave exit $rc: $(cat "$WORK/ref.log")"
rc=0
nsx "$SYNFIN" nc --tun "bad/name" --addr "$SADDR/24" --listen 1 2>"$WORK/bad.log" || rc=$?
[ $rc -eq 1 ] && grep -q "not a valid interface name" "$WORK/bad.log" || die "a bad --tun gave exit $rc"
rc=0
nsx "$SYNFIN" nc --tun "$TUN" --addr "$SADDR" --listen 1 2>"$WORK/bad.log" || rc=$?
[ $rc -eq 1 ] && grep -q "needs a prefix length" "$WORK/bad.log" || die "an --addr without prefix gave exit $rc"
rc=0
nsx "$SYNFIN" nc --tun "$TUN" --addr "$SADDR/24" --impair "loss=2" --listen 1 2>"$WORK/bad.log" || rc=$?
[ $rc -eq 1 ] && grep -q "between 0 and 1" "$WORK/bad.log" || die "--impair loss=2 gave exit $rc"
rc=0
nsx unshare -m sh -c "mount -t tmpfs none /dev/net && exec '$SYNFIN' nc --tun $TUN --addr $SADDR/24 --listen 1" \
  2>"$WORK/bad.log" || rc=$?
[ $rc -eq 1 ] && grep -q "/dev/net/tun does not exist" "$WORK/bad.log" || die "no /dev/net/tun gave exit $rc: $(cat "$WORK/bad.log")"
if command -v setpriv >/dev/null; then
  rc=0
  nsx setpriv --reuid=65534 --regid=65534 --clear-groups "$SYNFIN" nc --tun "$TUN" --addr "$SADDR/24" --listen 1 \
    2>"$WORK/bad.log" || rc=$?
  [ $rc -eq 1 ] && grep -q "permission denied" "$WORK/bad.log" || die "an unprivileged user gave exit $rc: $(cat "$WORK/bad.log")"
fi
echo "    clear errors for a bad endpoint, a refused port, a bad device name, address and impairment,"
echo "    no /dev/net/tun, and no right to use it"

echo "halfclose_test${MODE/plain/}: OK in $(( ($(now_ms) - START) / 1000 )) s"

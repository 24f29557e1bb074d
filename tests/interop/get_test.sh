#!/usr/bin/env bash
# `synfin get` (synfin's TCP) against servers the kernel runs in a private namespace:
#  - python3 -m http.server: a 50 MB file byte-exact, HEAD, 404 (exit 8);
#  - a closed port: refused at once (exit 3); a server answering with an SSH banner: a bad
#    response (exit 6);
#  - an address whose packets are all dropped: a timeout after --connect-timeout (exit 5);
#  - the kernel side failing mid-transfer: its socket reset (ss -K) gives "reset" (exit 4),
#    its process killed gives "closed after N of M bytes" (exit 4), the network cut gives a
#    timeout after --timeout (exit 5): never a hang.
# With --impaired: the 50 MB file only, with 5% loss on the kernel's side (nftables) and
# delay, jitter, reordering and duplication from synfin's --impair.
# Usage: get_test.sh SYNFIN [--impaired]
source "$(dirname "$0")/lib.sh"
MODE=${2:-plain}
interop_init get "$1"
START=$(now_ms)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$WORK/www
mkdir -p "$ROOT"
BIG_MB=${SYNFIN_INTEROP_BIG_MB:-50}
head -c $(( BIG_MB * 1024 * 1024 )) /dev/urandom >"$ROOT/big.bin"
echo "hello from the kernel" >"$ROOT/hello.txt"

IMPAIR=()
if [ "$MODE" = "--impaired" ]; then
  IMPAIR=(--impair "delay=1ms,jitter=1ms,reorder=2%,duplicate=1%,seed=5")
  nsx nft add table inet synfin_loss
  nsx nft add chain inet synfin_loss out '{ type filter hook output priority 0; }'
  nsx nft add rule inet synfin_loss out oifname "$TUN" numgen random mod 100 '<' 5 counter drop
fi

ip netns exec "$NS" python3 -m http.server 8000 --bind "$KADDR" --directory "$ROOT" >"$WORK/http.server.log" 2>&1 &
track $!
for _ in $(seq 50); do nsx ss -ltnH "sport = :8000" | grep -q . && break; sleep 0.1; done
nsx ss -ltnH "sport = :8000" | grep -q . || die "python3 -m http.server did not start: $(cat "$WORK/http.server.log")"

get() { nsx timeout 300 "$SYNFIN" get --tun "$TUN" --addr "$SADDR/24" "${IMPAIR[@]}" "$@"; }

note "a $BIG_MB MB file from python3 -m http.server"
t0=$(now_ms)
get -o "$WORK/big.bin" "http://$KADDR:8000/big.bin" 2>"$WORK/get-big.log" || die "synfin get failed: $(cat "$WORK/get-big.log")"
t1=$(now_ms)
same_file "$ROOT/big.bin" "$WORK/big.bin" "the $BIG_MB MB file"
grep -q "^HTTP/1.0 200 OK" "$WORK/get-big.log" || die "no status line printed: $(cat "$WORK/get-big.log")"
echo "    $BIG_MB MB exact in $((t1 - t0)) ms; $(grep 'body bytes' "$WORK/get-big.log")"

if [ "$MODE" = "--impaired" ]; then
  dropped=$(nsx nft list chain inet synfin_loss out | grep -o 'packets [0-9]*' | awk '{print $2}')
  [ "${dropped:-0}" -gt 0 ] || die "the nftables loss rule dropped nothing: the test did not test loss"
  echo "    the kernel's side dropped $dropped packets"
  echo "get_test (impaired): OK in $(( ($(now_ms) - START) / 1000 )) s"
  exit 0
fi

note "small file, HEAD, 404, standard output"
[ "$(get --quiet "http://$KADDR:8000/hello.txt" 2>/dev/null)" = "hello from the kernel" ] || die "body to standard output is wrong"
get -I "http://$KADDR:8000/big.bin" -o "$WORK/head.out" -i 2>"$WORK/head.log" || die "HEAD failed: $(cat "$WORK/head.log")"
[ ! -s "$WORK/head.out" ] || die "HEAD wrote a body"
grep -q "Content-Length: $(stat -c %s "$ROOT/big.bin")" "$WORK/head.log" || die "HEAD did not print the header fields"
rc=0
get -o /dev/null "http://$KADDR:8000/missing" 2>"$WORK/404.log" || rc=$?
[ $rc -eq 8 ] && grep -q "404" "$WORK/404.log" || die "a 404 gave exit $rc: $(cat "$WORK/404.log")"
echo "    ok"

note "failures: refused, no answer, bad URL"
t0=$(now_ms)
rc=0
get "http://$KADDR:8999/" -o /dev/null 2>"$WORK/refused.log" || rc=$?
t1=$(now_ms)
[ $rc -eq 3 ] && grep -q "connection refused" "$WORK/refused.log" || die "a closed port gave exit $rc: $(cat "$WORK/refused.log")"
[ $((t1 - t0)) -lt 2000 ] || die "connection refused took $((t1 - t0)) ms"
refused_ms=$((t1 - t0))
nsx nft add table inet synfin_drop
nsx nft add chain inet synfin_drop in '{ type filter hook input priority 0; }'
nsx nft add rule inet synfin_drop in iifname "$TUN" tcp dport 9999 drop
t0=$(now_ms)
rc=0
get --connect-timeout 2 "http://$KADDR:9999/" -o /dev/null 2>"$WORK/timeout.log" || rc=$?
t1=$(now_ms)
[ $rc -eq 5 ] && grep -q "timed out" "$WORK/timeout.log" || die "a silent address gave exit $rc: $(cat "$WORK/timeout.log")"
[ $((t1 - t0)) -ge 2000 ] && [ $((t1 - t0)) -lt 4000 ] || die "--connect-timeout 2 gave up after $((t1 - t0)) ms"
rc=0
get "https://$KADDR/" 2>"$WORK/url.log" || rc=$?
[ $rc -eq 1 ] && grep -q "https is not supported" "$WORK/url.log" || die "an https URL gave exit $rc"
rc=0
get "http://example.invalid/" 2>"$WORK/url.log" || rc=$?
[ $rc -eq 1 ] && grep -q "not an IPv4 address" "$WORK/url.log" || die "a host name gave exit $rc"
echo "    refused in $refused_ms ms; timeout after $((t1 - t0)) ms with --connect-timeout 2; bad URLs rejected"

note "a server that does not speak HTTP"
# socat answers every connection with an SSH banner and closes: not an HTTP response (exit 6).
ip netns exec "$NS" socat TCP-LISTEN:8300,bind="$KADDR",reuseaddr,fork \
  SYSTEM:'echo SSH-2.0-OpenSSH_9.2p1 Debian-2; sleep 0.2' >"$WORK/socat-ssh.log" 2>&1 &
track $!
for _ in $(seq 50); do nsx ss -ltnH "sport = :8300" | grep -q . && break; sleep 0.1; done
rc=0
get "http://$KADDR:8300/" -o "$WORK/ssh.out" 2>"$WORK/ssh.log" || rc=$?
[ $rc -eq 6 ] && grep -q "bad response" "$WORK/ssh.log" || die "a non-HTTP answer gave exit $rc: $(cat "$WORK/ssh.log")"
[ ! -s "$WORK/ssh.out" ] || die "a non-HTTP answer was written out as a body"
echo "    $(grep 'synfin get:' "$WORK/ssh.log") (exit 6)"

note "the kernel side failing mid-transfer"
ip netns exec "$NS" python3 "$HERE/slow_server.py" "$KADDR" 8200 50000000 >"$WORK/slow.log" 2>&1 &
SLOW=$!
track $SLOW
for _ in $(seq 50); do grep -q ready "$WORK/slow.log" && break; sleep 0.1; done
# 1. the kernel resets the connection (ss -K destroys the socket: RST)
ip netns exec "$NS" "$SYNFIN" get --tun "$TUN" --addr "$SADDR/24" "http://$KADDR:8200/" -o /dev/null 2>"$WORK/reset.log" &
GET=$!
track $GET
sleep 1
nsx ss -K src "$KADDR" sport = :8200 dst "$SADDR" >/dev/null 2>&1 || true
rc=0
timeout 10 tail --pid=$GET -f /dev/null || die "synfin get hung after the kernel reset the connection"
wait $GET || rc=$?
[ $rc -eq 4 ] && grep -q "reset" "$WORK/reset.log" || die "a reset mid-transfer gave exit $rc: $(cat "$WORK/reset.log")"
# 2. the network is cut: nothing more arrives
ip netns exec "$NS" "$SYNFIN" get --tun "$TUN" --addr "$SADDR/24" --timeout 2 "http://$KADDR:8200/" -o /dev/null 2>"$WORK/cut.log" &
GET=$!
track $GET
sleep 1
nsx nft add rule inet synfin_drop in iifname "$TUN" tcp dport 8200 drop
t0=$(now_ms)
rc=0
timeout 10 tail --pid=$GET -f /dev/null || die "synfin get hung after the network was cut"
wait $GET || rc=$?
t1=$(now_ms)
[ $rc -eq 5 ] && grep -q "timed out" "$WORK/cut.log" || die "a cut network gave exit $rc: $(cat "$WORK/cut.log")"
nsx nft flush chain inet synfin_drop in
# 3. the server process is killed: the kernel closes its socket
ip netns exec "$NS" "$SYNFIN" get --tun "$TUN" --addr "$SADDR/24" "http://$KADDR:8200/" -o /dev/null 2>"$WORK/killed.log" &
GET=$!
track $GET
sleep 1
kill -9 $SLOW
rc=0
timeout 10 tail --pid=$GET -f /dev/null || die "synfin get hung after the server was killed"
wait $GET || rc=$?
[ $rc -eq 4 ] && grep -Eq "closed the connection after [0-9]+ of 50000000|reset" "$WORK/killed.log" ||
  die "a killed server gave exit $rc: $(cat "$WORK/killed.log")"
echo "    reset: $(grep 'synfin get:' "$WORK/reset.log")"
echo "    cut:   $(grep 'synfin get:' "$WORK/cut.log")"
echo "    kill:  $(grep 'synfin get:' "$WORK/killed.log")"

assert_no_stuck "at the end"
echo "get_test: OK in $(( ($(now_ms) - START) / 1000 )) s"

#!/usr/bin/env bash
# curl (the kernel's TCP) against `synfin serve` over a TUN device in a private namespace:
#  - 100 sequential requests on one keep-alive connection (curl must reuse it),
#    50 parallel connections, a 50 MB file: every body byte-exact (sha256);
#  - a tshark capture of all that on the TUN device: no malformed packet, no bad checksum;
#  - ping of synfin's address; a closed port refuses at once;
#  - the HTTP rules: 404, 405, 403 for a path that escapes the root, 400 for garbage, 414,
#    431, 413, Connection: close, Keep-Alive, --max-requests, --idle-timeout,
#    --max-connections; a client killed mid-transfer resets (logged, the server goes on);
#    SIGTERM finishes the response in flight, then exits with nothing left open.
#  - an idle server sleeps: a few event-loop wake-ups and no CPU in 3 s (no busy polling).
# With --impaired: the transfers only, with 5% loss on the kernel's side (nftables) and
# delay, jitter, reordering and duplication from synfin's --impair.
# Usage: serve_test.sh SYNFIN [--impaired]
source "$(dirname "$0")/lib.sh"
MODE=${2:-plain}
interop_init serve "$1"
START=$(now_ms)

# --- content ------------------------------------------------------------------------------
ROOT=$WORK/www
mkdir -p "$ROOT/sub" "$WORK/out"
for i in $(seq 1 100); do head -c $(( i * 997 + 13 )) /dev/urandom >"$ROOT/f$i.bin"; done
for i in $(seq 1 50); do head -c $(( 200000 + i * 1013 )) /dev/urandom >"$ROOT/p$i.bin"; done
BIG_MB=${SYNFIN_INTEROP_BIG_MB:-50}
head -c $(( BIG_MB * 1024 * 1024 )) /dev/urandom >"$ROOT/big.bin"
echo "inside" >"$ROOT/sub/inner.txt"
echo "secret" >"$WORK/secret.txt"
ln -s "$WORK/secret.txt" "$ROOT/escape-link"

IMPAIR=()
if [ "$MODE" = "--impaired" ]; then
  IMPAIR=(--impair "delay=1ms,jitter=1ms,reorder=2%,duplicate=1%,seed=11")
  nsx nft add table inet synfin_loss
  nsx nft add chain inet synfin_loss out '{ type filter hook output priority 0; }'
  nsx nft add rule inet synfin_loss out oifname "$TUN" numgen random mod 100 '<' 5 counter drop
fi

# tshark captures on the TUN device: one for the many small transfers (checked with full
# HTTP reassembly), one for the big file (checked without reassembly, which would take minutes).
start_capture() {
  ip netns exec "$NS" tshark -i "$TUN" -B 64 -w "$WORK/$1.pcap" -q >"$WORK/tshark-$1.log" 2>&1 &
  TSHARK_PID=$!
  track $TSHARK_PID
  for _ in $(seq 100); do grep -q "Capturing on" "$WORK/tshark-$1.log" && break; sleep 0.1; done
  grep -q "Capturing on" "$WORK/tshark-$1.log" || die "tshark did not start capturing: $(cat "$WORK/tshark-$1.log")"
  sleep 0.5
}
stop_capture() {
  sleep 0.5
  kill -INT "$TSHARK_PID"
  timeout 20 tail --pid="$TSHARK_PID" -f /dev/null || die "tshark did not stop"
  if grep -q "dropped" "$WORK/tshark-$1.log"; then echo "    note: $(grep dropped "$WORK/tshark-$1.log")"; fi
}
if [ "$MODE" != "--impaired" ]; then
  command -v tshark >/dev/null || skip "tshark is not installed (make test installs it)"
  start_capture small
fi

start_synfin serve serve --tun "$TUN" --addr "$SADDR/24" --root "$ROOT" "${IMPAIR[@]}"
SERVE=$SYNFIN_PID
URL="http://$SADDR"

# --- 1a: 100 sequential requests on one connection -----------------------------------------
note "100 sequential keep-alive requests"
CFG=$WORK/seq.curl
: >"$CFG"
for i in $(seq 1 100); do printf 'url = "%s/f%d.bin"\noutput = "%s/out/f%d.bin"\n' "$URL" "$i" "$WORK" "$i" >>"$CFG"; done
t0=$(now_ms)
nsx timeout 120 curl -sS --fail -K "$CFG" -w '%{num_connects} %{http_code}\n' >"$WORK/seq.txt" 2>"$WORK/seq_curl.log" ||
  die "curl's sequential requests failed: $(cat "$WORK/seq_curl.log")"
t1=$(now_ms)
[ "$(wc -l <"$WORK/seq.txt")" -eq 100 ] || die "expected 100 transfers, curl reported $(wc -l <"$WORK/seq.txt")"
connects=$(awk '{s += $1} END {print s}' "$WORK/seq.txt")
[ "$connects" -eq 1 ] || die "100 keep-alive requests used $connects connections (curl did not reuse one)"
grep -qv ' 200$' "$WORK/seq.txt" && die "a sequential request did not get 200"
for i in $(seq 1 100); do same_file "$ROOT/f$i.bin" "$WORK/out/f$i.bin" "sequential request $i"; done
echo "    100 requests, 1 connection, all bytes exact, $((t1 - t0)) ms"

# --- 1b: 50 parallel connections ----------------------------------------------------------
note "50 parallel connections"
CFG=$WORK/par.curl
: >"$CFG"
for i in $(seq 1 50); do printf 'url = "%s/p%d.bin"\noutput = "%s/out/p%d.bin"\n' "$URL" "$i" "$WORK" "$i" >>"$CFG"; done
t0=$(now_ms)
nsx timeout 120 curl -sS --fail --parallel --parallel-immediate --parallel-max 50 -K "$CFG" \
  -w '%{num_connects} %{http_code}\n' >"$WORK/par.txt" 2>"$WORK/par_curl.log" ||
  die "curl's parallel requests failed: $(cat "$WORK/par_curl.log")"
t1=$(now_ms)
connects=$(awk '{s += $1} END {print s}' "$WORK/par.txt")
[ "$connects" -eq 50 ] || die "50 parallel transfers used $connects connections, not 50"
for i in $(seq 1 50); do same_file "$ROOT/p$i.bin" "$WORK/out/p$i.bin" "parallel request $i"; done
peers=$(grep '"GET /p' "$WORK/serve.log" | awk '{print $1}' | sort -u | wc -l)
[ "$peers" -eq 50 ] || die "the server's log shows $peers client ports for the parallel requests, not 50"
echo "    50 connections, all bytes exact, $((t1 - t0)) ms"

# --- 1c: the big file ----------------------------------------------------------------------
note "a $BIG_MB MB file"
if [ "$MODE" != "--impaired" ]; then
  stop_capture small
  start_capture big
fi
t0=$(now_ms)
nsx timeout 300 curl -sS --fail -o "$WORK/out/big.bin" "$URL/big.bin" || die "curl could not fetch big.bin"
t1=$(now_ms)
same_file "$ROOT/big.bin" "$WORK/out/big.bin" "the $BIG_MB MB file"
echo "    $BIG_MB MB exact in $((t1 - t0)) ms ($(( BIG_MB * 1024 * 1024 / 1000 / (t1 - t0 + 1) )) MB/s)"

if [ "$MODE" = "--impaired" ]; then
  dropped=$(nsx nft list chain inet synfin_loss out | grep -o 'packets [0-9]*' | awk '{print $2}')
  [ "${dropped:-0}" -gt 0 ] || die "the nftables loss rule dropped nothing: the test did not test loss"
  stop_synfin "$SERVE" || die "synfin serve exited with status $? after SIGTERM"
  grep -q "connections open: 0" "$WORK/serve.log" || die "synfin serve left connections open: $(tail -2 "$WORK/serve.log")"
  echo "    the kernel's side dropped $dropped packets"
  echo "serve_test (impaired): OK in $(( ($(now_ms) - START) / 1000 )) s"
  exit 0
fi

# --- 7: the captures -----------------------------------------------------------------------
note "tshark: malformed packets and checksums"
stop_capture big
check_capture() {
  local file=$1 packets bad
  shift
  packets=$(capinfos -c -M "$file" 2>/dev/null | awk '/Number of packets/ {print $NF}')
  [ "${packets:-0}" -gt 1000 ] || die "the capture $file has only ${packets:-0} packets"
  # A TCP checksum field of 0xffff where 0x0000 is computed is the same number in one's
  # complement (RFC 1624); Linux writes it so (CSUM_MANGLED_0), about once in 65536 packets,
  # and tshark calls it bad. Counted and shown apart; anything else is a failure.
  local rfc1624='tcp.checksum == 0xffff && tcp.checksum_calculated == 0x0000'
  bad=$(tshark -r "$file" "$@" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
    -Y "_ws.malformed || (tcp.checksum.status == 0 && !($rfc1624)) || ip.checksum.status == 0" 2>/dev/null | wc -l)
  tshark -r "$file" "$@" -o tcp.check_checksum:TRUE -Y "$rfc1624" -T fields -e frame.number -e ip.src 2>/dev/null |
    while read -r frame src; do echo "    note: frame $frame from $src has TCP checksum 0xffff for 0x0000 (RFC 1624; legal)"; done
  if [ "$bad" -ne 0 ]; then
    local keep="${TMPDIR:-/tmp}/synfin-interop-$(basename "$file" .pcap)-$$.pcap"
    cp "$file" "$keep"
    tshark -r "$file" "$@" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
      -Y "_ws.malformed || (tcp.checksum.status == 0 && !($rfc1624)) || ip.checksum.status == 0" 2>/dev/null | head -5 >&2
    die "tshark found $bad malformed or badly checksummed packets in $file (kept as $keep)"
  fi
  echo "    $(basename "$file"): $packets packets, none malformed, no bad checksum"
  echo "    TCP analysis notes from tshark (count, kind):"
  tshark -r "$file" "$@" -Y 'tcp.analysis.flags' -T fields -e ip.src -e _ws.expert.message 2>/dev/null |
    awk -F'\t' '{n = split($2, m, ","); for (i = 1; i <= n; i++) { sub(/^ +/, "", m[i]); print "from " $1 ": " m[i] } }' |
    sort | uniq -c | sed 's/^/      /' || true
}
check_capture "$WORK/small.pcap"
# Without reassembly, random body bytes would be dissected as (malformed) HTTP: treat the
# payload as data; IP and TCP, checksums included, are still checked.
check_capture "$WORK/big.pcap" -o tcp.desegment_tcp_streams:FALSE -d tcp.port==80,data

# --- 6: ping; 5: a closed port ---------------------------------------------------------------
note "ping and a closed port"
nsx ping -c 3 -i 0.2 -W 2 "$SADDR" >"$WORK/ping.log" || die "ping of synfin's address failed: $(cat "$WORK/ping.log")"
grep -q "3 received" "$WORK/ping.log" || die "ping: $(tail -2 "$WORK/ping.log")"
t0=$(now_ms)
rc=0
nsx curl -sS -v --max-time 5 "http://$SADDR:81/" >/dev/null 2>"$WORK/refused.log" || rc=$?
t1=$(now_ms)
[ $rc -eq 7 ] && grep -qi "Connection refused" "$WORK/refused.log" || die "curl to a closed port: exit $rc, $(cat "$WORK/refused.log")"
[ $((t1 - t0)) -lt 1000 ] || die "connection refused took $((t1 - t0)) ms, not at once"
echo "    ping answered; closed port refused in $((t1 - t0)) ms"

# --- HTTP rules ----------------------------------------------------------------------------
note "HTTP status codes and connection rules"
code() { nsx curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "$URL/missing")" = 404 ] || die "a missing file did not give 404"
[ "$(code -X POST -d x "$URL/f1.bin")" = 405 ] || die "POST did not give 405"
nsx curl -s -D - -o /dev/null -X DELETE "$URL/f1.bin" | grep -qi '^Allow: GET, HEAD' || die "405 without Allow"
[ "$(code --path-as-is "$URL/../../../../etc/passwd")" = 403 ] || die "a path escaping the root was not refused"
[ "$(code --path-as-is "$URL/sub/%2e%2e/%2e%2e/etc/passwd")" = 403 ] || die "an encoded escape was not refused"
[ "$(code "$URL/escape-link")" = 403 ] || die "a symlink out of the root was served"
[ "$(code "$URL/sub/../sub/inner.txt")" = 200 ] || die "a path with .. inside the root was refused"
[ "$(code "$URL/sub")" = 301 ] || die "a directory without / did not redirect"
[ "$(code "$URL/sub/")" = 200 ] || die "a directory listing failed"
[ "$(nsx curl -s -I "$URL/f5.bin" | grep -i '^Content-Length' | tr -d '\r' | awk '{print $2}')" = "$(stat -c %s "$ROOT/f5.bin")" ] ||
  die "HEAD gave the wrong Content-Length"
[ "$(code "$URL/$(head -c 10000 /dev/zero | tr '\0' a)")" = 414 ] || die "a 10 KB URL did not give 414"
[ "$(code -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' b)" "$URL/f1.bin")" = 431 ] || die "a 40 KB header did not give 431"
[ "$(code -H 'Content-Length: 5000000' -H 'Expect:' -X GET "$URL/f1.bin")" = 413 ] || die "a 5 MB body did not give 413"
raw() { printf "$1" | nsx timeout 5 socat -t 2 - "TCP:$SADDR:80" 2>/dev/null | head -1 | tr -d '\r'; }
[ "$(raw 'GARBAGE\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || die "garbage did not give 400"
[ "$(raw 'GET / HTTP/1.1\r\n\r\n')" = "HTTP/1.1 400 Bad Request" ] || die "HTTP/1.1 without Host did not give 400"
[ "$(raw 'GET / HTTP/2.0\r\nHost: x\r\n\r\n')" = "HTTP/1.1 505 HTTP Version Not Supported" ] || die "HTTP/2.0 did not give 505"
head -c 200000 /dev/urandom | nsx timeout 10 socat -t 2 - "TCP:$SADDR:80" >/dev/null 2>&1 || true
# Connection: close is honoured, keep-alive is announced.
nsx curl -s -v -H 'Connection: close' "$URL/f1.bin" "$URL/f2.bin" -o /dev/null -o /dev/null 2>"$WORK/close.log" -w '%{num_connects}\n' >"$WORK/close.txt"
[ "$(awk '{s += $1} END {print s}' "$WORK/close.txt")" -eq 2 ] || die "Connection: close was not honoured"
grep -qi '< Connection: close' "$WORK/close.log" || die "no Connection: close in the response"
nsx curl -s -D - -o /dev/null "$URL/f1.bin" | grep -qi '^Keep-Alive: timeout=60, max=99' || die "no Keep-Alive header"
kill -0 "$SERVE" || die "synfin serve died on bad input"
[ "$(code "$URL/f1.bin")" = 200 ] || die "the server stopped answering after bad input"
echo "    404 405 403 301 414 431 413 400 505, Connection: close, Keep-Alive: all as expected"

# --- 5: a client killed in the middle of a transfer ------------------------------------------
note "a client killed mid-transfer"
ip netns exec "$NS" curl -s --limit-rate 2M -o /dev/null "$URL/big.bin" &
CURL_PID=$!
track $CURL_PID
sleep 1
kill -9 $CURL_PID
wait $CURL_PID 2>/dev/null || true
for _ in $(seq 50); do grep -q 'GET /big.bin.* connection reset by the client' "$WORK/serve.log" && break; sleep 0.1; done
grep -q 'GET /big.bin.* connection reset by the client' "$WORK/serve.log" ||
  die "the server did not report the reset of the killed client: $(tail -3 "$WORK/serve.log")"
[ "$(code "$URL/f1.bin")" = 200 ] || die "the server stopped answering after a client was killed"
echo "    the server logged the reset and went on"

# --- SIGTERM: the response in flight completes, then the server exits --------------------------
note "SIGTERM during a transfer"
# At 20 MB/s the file takes about 2.6 s, well within the 5 s the server gives itself.
ip netns exec "$NS" curl -sS --limit-rate 20M -o "$WORK/out/late.bin" "$URL/big.bin" 2>"$WORK/late.log" &
CURL_PID=$!
track $CURL_PID
for _ in $(seq 100); do [ -s "$WORK/out/late.bin" ] && break; sleep 0.05; done
[ -s "$WORK/out/late.bin" ] || die "the transfer to interrupt did not start"
rc=0
stop_synfin "$SERVE" || rc=$?
[ $rc -eq 0 ] || die "synfin serve exited with status $rc after SIGTERM"
wait $CURL_PID || die "the transfer in flight at SIGTERM failed: $(cat "$WORK/late.log")"
same_file "$ROOT/big.bin" "$WORK/out/late.bin" "the transfer in flight at SIGTERM"
grep -q "connections open: 0" "$WORK/serve.log" || die "synfin serve left connections open: $(tail -2 "$WORK/serve.log")"
assert_no_stuck "after serve's graceful stop"
echo "    the response in flight completed; exit 0 with no connection open"

# --- the limits: --max-requests, --idle-timeout, --max-connections --------------------------
note "--max-requests 5, --idle-timeout 1, --max-connections 2"
start_synfin limits serve --tun "$TUN" --addr "$SADDR/24" --root "$ROOT" --max-requests 5 --idle-timeout 1 \
  --max-connections 2 --quiet
LIMITS=$SYNFIN_PID
urls=()
for i in $(seq 1 12); do urls+=("$URL/f$i.bin" -o /dev/null); done
nsx curl -s "${urls[@]}" -w '%{num_connects}\n' >"$WORK/maxreq.txt"
[ "$(awk '{s += $1} END {print s}' "$WORK/maxreq.txt")" -eq 3 ] ||
  die "12 requests with --max-requests 5 used $(awk '{s += $1} END {print s}' "$WORK/maxreq.txt") connections, not 3"
t0=$(now_ms)
# socat ends 0.2 s after the server's FIN (its input stays open for 4 s).
(printf 'GET /f1.bin HTTP/1.1\r\nHost: x\r\n\r\n'; sleep 4) |
  { nsx timeout 10 socat -t 0.2 - "TCP:$SADDR:80" >"$WORK/idle.out" 2>/dev/null || true; now_ms >"$WORK/idle.end"; }
t1=$(cat "$WORK/idle.end")
grep -qi 'Keep-Alive: timeout=1, max=4' "$WORK/idle.out" || die "no Keep-Alive: timeout=1, max=4"
[ $((t1 - t0)) -lt 3000 ] || die "an idle connection stayed open $((t1 - t0)) ms with --idle-timeout 1"
# Two idle connections fill the server; a third waits, and is served once they time out.
(sleep 3) | ip netns exec "$NS" socat -t 3 - "TCP:$SADDR:80" >/dev/null 2>&1 &
track $!
(sleep 3) | ip netns exec "$NS" socat -t 3 - "TCP:$SADDR:80" >/dev/null 2>&1 &
track $!
sleep 0.3
rc=0
nsx curl -s -o /dev/null --max-time 0.5 "$URL/f1.bin" || rc=$?
[ $rc -eq 28 ] || die "a third connection was served at once with --max-connections 2 (curl exit $rc)"
[ "$(code --max-time 5 "$URL/f1.bin")" = 200 ] || die "a waiting connection was not served once others closed"
stop_synfin "$LIMITS" || die "synfin serve (limits) exited with status $?"
echo "    3 connections for 12 requests; idle close after ~1 s; the third connection waited"

# --- idle: the event loop sleeps until a packet or a deadline, it does not poll ---------------
note "an idle server sleeps"
start_synfin idle serve --tun "$TUN" --addr "$SADDR/24" --root "$ROOT" --quiet --stats
IDLE=$SYNFIN_PID
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu0=$(ticks "$IDLE")
sleep 3
cpu1=$(ticks "$IDLE")
stop_synfin "$IDLE" || die "synfin serve (idle) exited with status $?"
wakeups=$(sed -n 's/^event loop: \([0-9]*\) wake-ups.*/\1/p' "$WORK/idle.log")
[ -n "$wakeups" ] || die "serve --stats printed no event-loop line: $(tail -5 "$WORK/idle.log")"
# Whatever the kernel sends to a new device (IPv6 router solicitations and the like) wakes
# it a few times; a polling loop would wake thousands of times and burn a core.
[ "$wakeups" -lt 50 ] || die "an idle server woke up $wakeups times in 3 s"
[ $((cpu1 - cpu0)) -le 10 ] || die "an idle server used $((cpu1 - cpu0)) clock ticks of CPU in 3 s"
echo "    3 s idle: $wakeups wake-ups, $((cpu1 - cpu0)) clock ticks of CPU"

# --- a device synfin creates itself, given the kernel's address -----------------------------
note "--tun on a new device with --kernel-addr; the built-in page"
NEWNET=${KADDR%.0.1}.1
start_synfin created serve --tun synfin9 --addr "$NEWNET.2/24" --kernel-addr "$NEWNET.1" --quiet
nsx ip -br addr show synfin9 | grep -q "$NEWNET.1/24" || die "--kernel-addr did not configure the device"
nsx curl -s --max-time 5 "http://$NEWNET.2/" | grep -q "served by synfin" || die "the built-in page was not served"
[ "$(code "http://$NEWNET.2/other")" = 404 ] || die "the built-in server answered a random path"
stop_synfin "$SYNFIN_PID" || die "synfin serve (created device) exited with status $?"
if nsx ip link show synfin9 >/dev/null 2>&1; then die "the device synfin created outlived it"; fi
echo "    created, configured, served, and gone at exit"

assert_no_stuck "at the end"
echo "serve_test: OK in $(( ($(now_ms) - START) / 1000 )) s"

#!/usr/bin/env bash
# The TCP options of RFC 7323 (window scale, timestamps) and RFC 2018 (SACK-permitted)
# negotiated between synfin and the Linux kernel, read from tshark's dissection of a capture
# on the TUN device in a private namespace:
#  - curl -> synfin serve: the kernel's SYN and synfin's SYN-ACK both carry window scale,
#    timestamps and SACK-permitted, and every data segment both ways carries timestamps;
#  - curl -> synfin serve --wscale off --timestamps off --sack off: synfin's SYN-ACK carries
#    the MSS option and nothing else, and no segment of the connection carries timestamps;
#  - synfin get -> python3 -m http.server: synfin's SYN carries all three (and the kernel's
#    SYN-ACK answers with all three); with the three turned off it carries only the MSS;
#  - --cc newreno transfers byte-exact; bad values of the options are refused by the
#    command line, and --help documents them.
# Usage: options_test.sh SYNFIN
source "$(dirname "$0")/lib.sh"

# --- the command line (no root needed, so before interop_init) ------------------------------
BIN=$1
[ -x "$BIN" ] || die "synfin binary '$BIN' not found"
for cmd in serve get nc; do
  help=$("$BIN" "$cmd" --help)
  for opt in "--wscale on|off" "--timestamps on|off" "--sack on|off" "--cc cubic|newreno"; do
    grep -qF -- "$opt" <<<"$help" || die "synfin $cmd --help does not document '$opt'"
  done
done
bad_value() {
  local out rc=0
  out=$("$BIN" "$@" 2>&1) || rc=$?
  [ $rc -ne 0 ] || die "synfin $* was accepted"
  grep -q -- "${@: -2:1}" <<<"$out" || die "synfin $*: the error does not name the option: $out"
}
bad_value serve --addr 10.9.9.2/24 --sack maybe
bad_value get --addr 10.9.9.2/24 http://10.9.9.1/ --wscale 1
bad_value nc --addr 10.9.9.2/24 --listen 7 --timestamps yes
bad_value serve --addr 10.9.9.2/24 --cc bbr
echo "--- command line: --help documents the four options; bad values are refused"

interop_init options "$1"
command -v tshark >/dev/null || skip "tshark is not installed (make test installs it)"
START=$(now_ms)
ROOT=$WORK/www
mkdir -p "$ROOT"
head -c 300000 /dev/urandom >"$ROOT/data.bin"

start_capture() {
  ip netns exec "$NS" tshark -i "$TUN" -B 16 -w "$WORK/$1.pcap" -q >"$WORK/tshark-$1.log" 2>&1 &
  TSHARK_PID=$!
  track $TSHARK_PID
  for _ in $(seq 100); do grep -qs "Capturing on" "$WORK/tshark-$1.log" && break; sleep 0.1; done
  grep -q "Capturing on" "$WORK/tshark-$1.log" || die "tshark did not start capturing: $(cat "$WORK/tshark-$1.log")"
  sleep 0.5
}
stop_capture() {
  sleep 0.5
  kill -INT "$TSHARK_PID"
  timeout 20 tail --pid="$TSHARK_PID" -f /dev/null || die "tshark did not stop"
}
# Fields of the packets of a capture that match a display filter, tab-separated.
fields() {
  local file=$1 filter=$2
  shift 2
  local args=()
  for f in "$@"; do args+=(-e "$f"); done
  tshark -r "$WORK/$file.pcap" -Y "$filter" -T fields -E separator=';' -E occurrence=a -E aggregator=, "${args[@]}" \
    2>/dev/null
}
count() { fields "$1" "$2" frame.number | wc -l; }

SYN='tcp.flags.syn == 1 && tcp.flags.ack == 0'
SYNACK='tcp.flags.syn == 1 && tcp.flags.ack == 1'
ALL3='tcp.options.wscale.shift && tcp.options.timestamp.tsval && tcp.options.sack_perm && tcp.options.mss_val'
NONE3='!tcp.options.wscale && !tcp.options.timestamp && !tcp.options.sack_perm && tcp.options.mss_val'
# The fields come separated by ';' (a tab would merge empty fields when read splits them).
# One line per SYN or SYN-ACK: who sent it and the option kinds, as tshark decodes them
# (2 MSS, 3 window scale, 4 SACK-permitted, 8 timestamps, 1 NOP).
show_handshake() {
  fields "$1" 'tcp.flags.syn == 1' ip.src tcp.flags.str tcp.option_kind tcp.options.wscale.shift tcp.options.mss_val |
    while IFS=';' read -r src flags kinds shift mss; do
      echo "    $src $flags option kinds [$kinds] wscale shift ${shift:--} mss $mss"
    done
}
# Assertion: exactly N packets of the capture match the filter.
want() {
  local file=$1 n=$2 filter=$3 what=$4 got
  got=$(count "$file" "$filter")
  [ "$got" -eq "$n" ] || { show_handshake "$file" >&2; die "$what: $got packet(s) match '$filter', expected $n"; }
}

# --- 1. curl -> synfin serve, defaults ----------------------------------------------------
note "curl -> synfin serve (defaults): the handshake and the data segments"
start_capture serve-on
start_synfin serve-on serve --tun "$TUN" --addr "$SADDR/24" --root "$ROOT" --quiet
nsx timeout 30 curl -sS --fail -o "$WORK/data-on.bin" "http://$SADDR/data.bin" || die "curl failed"
same_file "$ROOT/data.bin" "$WORK/data-on.bin" "the file from synfin serve"
stop_synfin "$SYNFIN_PID" || die "synfin serve exited with status $?"
stop_capture serve-on
grep -q "wscale on, timestamps on, sack on, cc cubic" "$WORK/serve-on.log" ||
  die "synfin serve did not report its default TCP options: $(head -1 "$WORK/serve-on.log")"
show_handshake serve-on
want serve-on 1 "$SYN && ip.src == $KADDR && $ALL3" "the kernel's SYN with window scale, timestamps, SACK-permitted"
want serve-on 1 "$SYNACK && ip.src == $SADDR && $ALL3" "synfin's SYN-ACK with window scale, timestamps, SACK-permitted"
data=$(count serve-on "tcp.len > 0")
[ "$data" -gt 200 ] || die "only $data data segments captured"
want serve-on 0 "tcp.flags.syn == 0 && tcp.flags.reset == 0 && !tcp.options.timestamp.tsval" \
  "segments after the handshake without timestamps"
# Window scaling is in use: synfin announces, scaled, more than an unscaled field could say.
maxwin=$(fields serve-on "ip.src == $SADDR && tcp.flags.syn == 0" tcp.window_size | sort -n | tail -1)
echo "    $data data segments, every segment after the handshake with timestamps; synfin's largest window $maxwin"

# --- 2. curl -> synfin serve with the three options off --------------------------------------
note "curl -> synfin serve --wscale off --timestamps off --sack off: only the MSS"
start_capture serve-off
start_synfin serve-off serve --tun "$TUN" --addr "$SADDR/24" --root "$ROOT" --quiet \
  --wscale off --timestamps off --sack off
nsx timeout 30 curl -sS --fail -o "$WORK/data-off.bin" "http://$SADDR/data.bin" || die "curl failed"
same_file "$ROOT/data.bin" "$WORK/data-off.bin" "the file from synfin serve with the options off"
stop_synfin "$SYNFIN_PID" || die "synfin serve exited with status $?"
stop_capture serve-off
grep -q "wscale off, timestamps off, sack off" "$WORK/serve-off.log" ||
  die "synfin serve did not report the options off: $(head -1 "$WORK/serve-off.log")"
show_handshake serve-off
want serve-off 1 "$SYN && ip.src == $KADDR && $ALL3" "the kernel's SYN, still offering all three"
want serve-off 1 "$SYNACK && ip.src == $SADDR && $NONE3" "synfin's SYN-ACK with the MSS option only"
kinds=$(fields serve-off "$SYNACK && ip.src == $SADDR" tcp.option_kind)
[ "$kinds" = "2" ] || die "synfin's SYN-ACK carries option kinds [$kinds], not just the MSS (2)"
want serve-off 0 "tcp.flags.syn == 0 && (tcp.options.timestamp || tcp.options.sack)" \
  "segments after the handshake with timestamps or SACK blocks"
maxwin=$(fields serve-off "ip.src == $SADDR" tcp.window_size | sort -n | tail -1)
[ "$maxwin" -le 65535 ] || die "synfin announced a window of $maxwin without window scaling"
echo "    synfin's SYN-ACK option kinds [$kinds]; no timestamps or SACK on the connection; largest window $maxwin"

# --- 3. synfin get -> python3 -m http.server ---------------------------------------------------
note "synfin get -> python3 -m http.server: synfin's SYN"
ip netns exec "$NS" python3 -m http.server 8000 --bind "$KADDR" --directory "$ROOT" >"$WORK/http.server.log" 2>&1 &
track $!
for _ in $(seq 50); do nsx ss -ltnH "sport = :8000" | grep -q . && break; sleep 0.1; done
nsx ss -ltnH "sport = :8000" | grep -q . || die "python3 -m http.server did not start: $(cat "$WORK/http.server.log")"
get() { nsx timeout 30 "$SYNFIN" get --tun "$TUN" --addr "$SADDR/24" "$@"; }
start_capture get
get -o "$WORK/get-on.bin" "http://$KADDR:8000/data.bin" 2>"$WORK/get-on.log" || die "synfin get failed: $(cat "$WORK/get-on.log")"
same_file "$ROOT/data.bin" "$WORK/get-on.bin" "the file with the defaults"
stop_capture get
show_handshake get
want get 1 "$SYN && ip.src == $SADDR && $ALL3" "synfin's SYN with window scale, timestamps, SACK-permitted"
want get 1 "$SYNACK && ip.src == $KADDR && $ALL3" "the kernel's SYN-ACK with window scale, timestamps, SACK-permitted"
want get 0 "tcp.flags.syn == 0 && tcp.flags.reset == 0 && !tcp.options.timestamp.tsval" \
  "segments after the handshake without timestamps"

start_capture get-off
get --wscale off --timestamps off --sack off --cc newreno -o "$WORK/get-off.bin" "http://$KADDR:8000/data.bin" \
  2>"$WORK/get-off.log" || die "synfin get with the options off failed: $(cat "$WORK/get-off.log")"
same_file "$ROOT/data.bin" "$WORK/get-off.bin" "the file with the options off and NewReno"
stop_capture get-off
show_handshake get-off
want get-off 1 "$SYN && ip.src == $SADDR && $NONE3" "synfin's SYN with the MSS option only"
kinds=$(fields get-off "$SYN && ip.src == $SADDR" tcp.option_kind)
[ "$kinds" = "2" ] || die "synfin's SYN carries option kinds [$kinds], not just the MSS (2)"
want get-off 1 "$SYNACK && ip.src == $KADDR && $NONE3" "the kernel's SYN-ACK answering with the MSS only"
want get-off 0 "tcp.options.timestamp || tcp.options.sack" "segments with timestamps or SACK blocks (none offered)"
echo "    defaults: all three both ways; off (and --cc newreno): MSS only both ways; bytes exact"

assert_no_stuck "at the end"
echo "options_test: OK in $(( ($(now_ms) - START) / 1000 )) s"

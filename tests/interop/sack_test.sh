#!/usr/bin/env bash
# SACK under loss, with the Linux kernel as the sender: `synfin get` downloads a 100 MB file
# from a Python HTTP server, with 1% random loss of the kernel's segments (nftables) and
# 10 ms of delay each way from synfin's --impair, once with --sack on and once with --sack off.
# synfin is the receiver: its SACK-permitted and SACK blocks are what let the kernel recover
# by SACK (RFC 6675, RACK) instead of by NewReno, one hole per round trip, and RTOs.
#
# The server runs in a second namespace behind the first one, which forwards; the loss is in
# the forward hook (interop_add_peer in lib.sh says why a drop in the sender's own output
# hook would not be loss at all).
#
# The kernel sends with BBR (set on the server's socket) when it has it: with a loss-based
# sender (CUBIC, Reno) 1% loss holds any TCP to about MSS/RTT * 1.2/sqrt(p), 0.9 MB/s here,
# SACK or not (the Mathis bound), and 100 MB would take minutes each way; BBR does not slow
# down for random loss, so how fast the losses are repaired decides the time. Measured on the
# development machine: BBR 100 MB in about 5 s with SACK, 20-25 s without; CUBIC 20 MB in
# 25 s with SACK, 37 s without (1.5x).
#
# Asserted, both times: the file byte-exact (sha256), the nftables rule dropped segments and
# the kernel retransmitted them. With SACK on: synfin's SYN offers SACK-permitted, its ACKs
# carry SACK blocks (tshark), the kernel recovered by SACK (nstat TcpExtTCPSackRecovery).
# With SACK off: no SACK-permitted, no SACK block, no SACK recovery, Reno recovery instead.
# And that SACK repairs the losses without resending what arrived: the kernel's retransmissions
# per dropped segment with SACK on are at most half of those with SACK off (measured: about
# 1.0 against about 30), and that SACK on finished first. The speed-up itself is printed, not
# asserted: these machines are shared, and CI once saw 1.7x where the development machine saw
# 4.5 to 6x, so a timing ratio there would be noise, not a finding.
# Usage: sack_test.sh SYNFIN
# Environment: SYNFIN_SACK_MB (100 with BBR, 20 otherwise), SYNFIN_SACK_KERNEL_CC (bbr when
# available).
source "$(dirname "$0")/lib.sh"
interop_init sack "$1"
command -v tshark >/dev/null || skip "tshark is not installed (make test installs it)"
command -v nstat >/dev/null || skip "nstat is not installed (iproute2)"
START=$(now_ms)
HERE=$(cd "$(dirname "$0")" && pwd)
interop_add_peer

KCC=${SYNFIN_SACK_KERNEL_CC:-}
if [ -z "$KCC" ]; then
  if grep -qw bbr /proc/sys/net/ipv4/tcp_available_congestion_control; then KCC=bbr
  else KCC=$(peerx sysctl -n net.ipv4.tcp_congestion_control); fi
fi
if [ "$KCC" = bbr ]; then
  MB=${SYNFIN_SACK_MB:-100}
else
  # Loss-based: see above. Smaller, since the Mathis bound holds both runs to under 1 MB/s.
  MB=${SYNFIN_SACK_MB:-20}
fi
LOSS=1
DELAY=10ms
ROOT=$WORK/www
mkdir -p "$ROOT"
head -c $(( MB * 1024 * 1024 )) /dev/urandom >"$ROOT/big.bin"

nsx nft add table inet synfin_loss
nsx nft add chain inet synfin_loss fw '{ type filter hook forward priority 0; }'
nsx nft add rule inet synfin_loss fw oifname "$TUN" tcp sport 8000 numgen random mod 100 '<' "$LOSS" counter drop

ip netns exec "$PEER_NS" python3 "$HERE/http_server_cc.py" "$PADDR" 8000 "$ROOT" "$KCC" >"$WORK/http.server.log" 2>&1 &
track $!
for _ in $(seq 50); do grep -q "^ready" "$WORK/http.server.log" && break; sleep 0.1; done
grep -q "^ready: $KCC" "$WORK/http.server.log" ||
  die "the HTTP server did not start with $KCC: $(cat "$WORK/http.server.log")"

dropped() { nsx nft list chain inet synfin_loss fw | grep -o 'packets [0-9]*' | awk '{print $2}'; }
kstat() { peerx nstat -az "$1" | awk -v n="$1" '$1 == n {print $2}'; }
tun_tx_drops() { nsx ip -s -s link show "$TUN" | awk '/TX:/ {getline; print $4}'; }

# One download; sets T_<mode> (ms) and prints its figures.
run() {
  local mode=$1
  # synfin's own segments only (ACKs, with their SACK blocks), headers only, so that
  # tshark keeps up.
  ip netns exec "$NS" tshark -i "$TUN" -B 16 -s 96 -f "src host $SADDR and tcp" -w "$WORK/acks-$mode.pcap" -q \
    >"$WORK/tshark-$mode.log" 2>&1 &
  local ts=$!
  track $ts
  for _ in $(seq 100); do grep -qs "Capturing on" "$WORK/tshark-$mode.log" && break; sleep 0.1; done
  grep -q "Capturing on" "$WORK/tshark-$mode.log" || die "tshark did not start: $(cat "$WORK/tshark-$mode.log")"
  sleep 0.5
  local drop0 tun0 sackrec0 renorec0 retrans0 rto0 t0 t1
  drop0=$(dropped)
  tun0=$(tun_tx_drops)
  sackrec0=$(kstat TcpExtTCPSackRecovery)
  renorec0=$(kstat TcpExtTCPRenoRecovery)
  retrans0=$(kstat TcpRetransSegs)
  rto0=$(kstat TcpExtTCPTimeouts)
  t0=$(now_ms)
  nsx timeout 120 "$SYNFIN" get --tun "$TUN" --addr "$SADDR/24" --impair "delay=$DELAY" --sack "$mode" \
    -o "$WORK/big-$mode.bin" "http://$PADDR:8000/big.bin" 2>"$WORK/get-$mode.log" ||
    die "synfin get --sack $mode failed: $(cat "$WORK/get-$mode.log")"
  t1=$(now_ms)
  sleep 0.5
  kill -INT $ts
  timeout 20 tail --pid=$ts -f /dev/null || die "tshark did not stop"
  same_file "$ROOT/big.bin" "$WORK/big-$mode.bin" "the $MB MB file with --sack $mode"
  rm -f "$WORK/big-$mode.bin"
  local drops=$(( $(dropped) - drop0 ))
  local tundrops=$(( $(tun_tx_drops) - tun0 ))
  local sackrec=$(( $(kstat TcpExtTCPSackRecovery) - sackrec0 ))
  local renorec=$(( $(kstat TcpExtTCPRenoRecovery) - renorec0 ))
  local retrans=$(( $(kstat TcpRetransSegs) - retrans0 ))
  local rtos=$(( $(kstat TcpExtTCPTimeouts) - rto0 ))
  local synperm sacked acks
  synperm=$(tshark -r "$WORK/acks-$mode.pcap" -Y 'tcp.flags.syn == 1 && tcp.options.sack_perm' 2>/dev/null | wc -l)
  sacked=$(tshark -r "$WORK/acks-$mode.pcap" -Y 'tcp.options.sack_le' 2>/dev/null | wc -l)
  acks=$(capinfos -c -M "$WORK/acks-$mode.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')
  printf -v "T_$mode" '%s' $((t1 - t0))
  printf -v "R_$mode" '%s' "$(awk -v r="$retrans" -v d="$drops" 'BEGIN {printf "%.2f", (d > 0 ? r / d : 0)}')"
  echo "    --sack $mode: $MB MB exact in $((t1 - t0)) ms ($(awk -v b=$(( MB * 1048576 )) -v ms=$((t1 - t0)) 'BEGIN {printf "%.1f", b / 1000 / ms}') MB/s);" \
    "$drops segments dropped by nftables, $tundrops by the TUN queue; the kernel retransmitted $retrans," \
    "recovered $sackrec times by SACK and $renorec by Reno, $rtos RTOs;" \
    "synfin sent $acks segments, $sacked with SACK blocks"
  [ "$drops" -gt 0 ] || die "--sack $mode: the nftables loss rule dropped nothing: the test did not test loss"
  [ "$retrans" -gt 0 ] || die "--sack $mode: the kernel retransmitted nothing: the drops were not losses"
  if [ "$mode" = on ]; then
    [ "$synperm" -eq 1 ] || die "--sack on: synfin's SYN did not offer SACK-permitted"
    [ "$sacked" -gt 0 ] || die "--sack on: none of synfin's ACKs carried SACK blocks"
    [ "$sackrec" -gt 0 ] || die "--sack on: the kernel never recovered by SACK (TcpExtTCPSackRecovery)"
  else
    [ "$synperm" -eq 0 ] || die "--sack off: synfin's SYN offered SACK-permitted"
    [ "$sacked" -eq 0 ] || die "--sack off: $sacked of synfin's segments carried SACK blocks"
    [ "$sackrec" -eq 0 ] || die "--sack off: the kernel recovered by SACK $sackrec times"
    [ "$renorec" -gt 0 ] || die "--sack off: the kernel never entered Reno recovery (TcpExtTCPRenoRecovery)"
  fi
}

note "$MB MB from the kernel ($KCC) to synfin get, ${LOSS}% loss on the path (nftables), --impair delay=$DELAY"
run on
run off
ratio=$(awk -v a="$T_off" -v b="$T_on" 'BEGIN {printf "%.2f", a / b}')
echo "    SACK on $T_on ms, SACK off $T_off ms: SACK on is ${ratio}x as fast (kernel sender: $KCC)"
echo "    kernel retransmissions per dropped segment: $R_on with SACK on, $R_off with SACK off"
awk -v a="$T_off" -v b="$T_on" 'BEGIN {exit !(b < a)}' ||
  die "SACK on ($T_on ms) was not faster than SACK off ($T_off ms)"
awk -v on="$R_on" -v off="$R_off" 'BEGIN {exit !(on * 2 <= off)}' ||
  die "SACK on did not spare retransmissions: $R_on per dropped segment against $R_off with SACK off (at most half expected)"
assert_no_stuck "at the end"
echo "sack_test: OK in $(( ($(now_ms) - START) / 1000 )) s"

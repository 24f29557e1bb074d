#!/usr/bin/env bash
# Every demo scenario must end as it must (exit 0), with and without loss; the demo's pcap
# must pass through tshark with no malformed packet and no bad checksum.
set -euo pipefail
synfin="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for s in http simultaneous-open simultaneous-close syn-timeout reset keepalive old-duplicate-syn; do
  "$synfin" demo --scenario "$s" --quiet >"$work/out" || { echo "scenario $s failed:"; cat "$work/out"; exit 1; }
  "$synfin" demo --scenario "$s" --lang zh --quiet >/dev/null || { echo "scenario $s (zh) failed"; exit 1; }
done
for seed in 1 2 3 4 5; do
  "$synfin" demo --loss 0.2 --seed "$seed" --quiet >/dev/null || { echo "http with 20% loss, seed $seed, failed"; exit 1; }
done
# Bad input gets a clear error, not a crash.
if "$synfin" demo --scenario nonsense >/dev/null 2>&1; then echo "unknown scenario accepted"; exit 1; fi
if "$synfin" demo --loss 2 >/dev/null 2>&1; then echo "loss 2 accepted"; exit 1; fi
"$synfin" demo --help | grep -q -- "--scenario" || { echo "demo --help lacks --scenario"; exit 1; }

# The timeline shows the sender's congestion state and the loss recovery. Without loss: cwnd
# only (ssthresh is not set before a loss). With 5 % loss, seed 21 loses the server's second
# segment; the client's duplicate ACK carries a SACK block for what arrived beyond it, and the
# server resends the hole by RFC 6675 recovery, with cwnd and ssthresh cut.
"$synfin" demo >"$work/clean"
grep -Eq '^ +[0-9.]+ +server +==> .*len [1-9][0-9]* .*\[cwnd [0-9]+\]$' "$work/clean" \
  || { echo "the timeline shows no cwnd on the server's data segments"; exit 1; }
if grep -q 'ssthresh\|recovery' "$work/clean"; then echo "ssthresh or recovery shown without any loss"; exit 1; fi
# The handshake's explanations say which options are offered and accepted.
grep -q 'first handshake segment: client .*offers window scaling (shift [0-9]*), SACK and timestamps' "$work/clean" \
  || { echo "the SYN's explanation does not name the options it offers"; exit 1; }
grep -q 'second handshake segment: server .*accepts window scaling (shift [0-9]*), SACK and timestamps' "$work/clean" \
  || { echo "the SYN-ACK's explanation does not name the options it accepts"; exit 1; }
"$synfin" demo --loss 0.05 --seed 21 >"$work/lossy"
grep -Eq '^ +[0-9.]+ +client +==> .* len 0 <.*sack [0-9]+:[0-9]+.*>$' "$work/lossy" \
  || { echo "seed 21: no SACK block on the client's ACKs (pick another seed if the stack's behaviour changed)"; cat "$work/lossy"; exit 1; }
grep -q 'duplicate ACK with SACK: client is missing bytes from [0-9]*' "$work/lossy" \
  || { echo "seed 21: the SACK blocks are not explained"; exit 1; }
grep -Eq '^ +[0-9.]+ +server +==> .*len [1-9][0-9]* .*\[cwnd [0-9]+ ssthresh [0-9]+, in SACK recovery \(RFC 6675\)\]$' "$work/lossy" \
  || { echo "seed 21: no data segment shows cwnd, ssthresh and the SACK recovery"; cat "$work/lossy"; exit 1; }
grep -Eq 'fast retransmission of bytes [0-9]+-[0-9]+: the peer.s SACK blocks show a hole' "$work/lossy" \
  || { echo "seed 21: the fast retransmission is not explained as such"; exit 1; }
# The cut is visible in the figures: cwnd during recovery is below the cwnd before the loss.
python3 - "$work/lossy" <<'PY' || exit 1
import re, sys
before = recovering = None
for line in open(sys.argv[1]):
    m = re.search(r"server +==> .*\[cwnd (\d+)(?: ssthresh (\d+))?(, in SACK recovery)?", line)
    if not m:
        continue
    if m.group(3):
        recovering = int(m.group(1))
        break
    before = int(m.group(1))
if before is None or recovering is None or not recovering < before:
    sys.exit(f"seed 21: cwnd before the loss {before}, in recovery {recovering}: no reduction shown")
PY
"$synfin" demo --loss 0.05 --seed 21 --lang zh >"$work/lossy.zh"
grep -q '处于 SACK 恢复（RFC 6675）' "$work/lossy.zh" || { echo "seed 21 (zh): the recovery is not shown"; exit 1; }
grep -q '快速重传第 [0-9]*-[0-9]* 字节' "$work/lossy.zh" || { echo "seed 21 (zh): the fast retransmission is not explained"; exit 1; }

# The pcap and the JSON trace.
"$synfin" demo --pcap "$work/demo.pcap" --trace "$work/demo.jsonl" --loss 0.1 --seed 3 --quiet >/dev/null
command -v tshark >/dev/null || { echo "tshark is missing (make test installs it)"; exit 1; }
packets=$(tshark -r "$work/demo.pcap" 2>/dev/null | wc -l)
[ "$packets" -ge 10 ] || { echo "pcap has only $packets packets"; exit 1; }
bad=$(tshark -r "$work/demo.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
  -Y '_ws.malformed || tcp.checksum.status == 0 || ip.checksum.status == 0' 2>/dev/null | wc -l)
[ "$bad" -eq 0 ] || { echo "tshark found $bad malformed or badly checksummed packets"; exit 1; }
tshark -r "$work/demo.pcap" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 80' 2>/dev/null | grep -q . \
  || { echo "no SYN to port 80 in the pcap"; exit 1; }
# The checksum check itself must be able to fail: flip a byte of the first TCP header.
python3 - "$work/demo.pcap" "$work/bad.pcap" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[24 + 16 + 20 + 4] ^= 0xff   # first record: TCP sequence number byte
open(sys.argv[2], 'wb').write(b)
PY
bad=$(tshark -r "$work/bad.pcap" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == 0' 2>/dev/null | wc -l)
[ "$bad" -eq 1 ] || { echo "the checksum check did not notice a damaged packet"; exit 1; }
lines=$(wc -l <"$work/demo.jsonl")
[ "$lines" -gt 20 ] || { echo "trace too short"; exit 1; }
python3 -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$work/demo.jsonl" || { echo "trace is not JSON lines"; exit 1; }
echo "demo: all scenarios OK, $packets packets in the pcap, $lines trace events"

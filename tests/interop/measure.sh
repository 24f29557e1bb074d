#!/usr/bin/env bash
# Throughput and request-rate figures (not a test; run by hand, as root):
#  - 1 GB kernel -> synfin and synfin -> kernel over the TUN device (socat and synfin nc);
#  - the same 1 GB kernel -> kernel over a veth pair between two namespaces, in the same run;
#  - requests per second of one curl keep-alive connection against synfin serve.
# Everything runs in namespaces this script creates and deletes.
# Usage: measure.sh SYNFIN [SIZE_MB] [REQUESTS]
source "$(dirname "$0")/lib.sh"
interop_init measure "$1"
SIZE_MB=${2:-1024}
REQUESTS=${3:-5000}
BYTES=$((SIZE_MB * 1024 * 1024))
mbps() { echo "$(( BYTES / 1000 / ($2 - $1 + 1) )) MB/s ($(( ($2 - $1) )) ms)"; }

note "kernel -> synfin over TUN, $SIZE_MB MB"
start_synfin rx nc --tun "$TUN" --addr "$SADDR/24" --listen 9000 --send /dev/null --recv /dev/null
t0=$(now_ms)
nsx timeout 600 socat -b 262144 -u "OPEN:/dev/zero,readbytes=$BYTES" "TCP:$SADDR:9000"
timeout 600 tail --pid=$SYNFIN_PID -f /dev/null
t1=$(now_ms)
grep -q "received $BYTES bytes" "$WORK/rx.log" || die "synfin did not receive everything: $(tail -1 "$WORK/rx.log")"
echo "    $(mbps $t0 $t1)"

note "synfin -> kernel over TUN, $SIZE_MB MB"
ip netns exec "$NS" timeout 600 socat -b 262144 -u "TCP-LISTEN:9001,bind=$KADDR,reuseaddr" OPEN:/dev/null &
SOCAT=$!
track $SOCAT
for _ in $(seq 50); do nsx ss -ltnH "sport = :9001" | grep -q . && break; sleep 0.1; done
t0=$(now_ms)
nsx timeout 600 "$SYNFIN" nc --tun "$TUN" --addr "$SADDR/24" --connect "$KADDR:9001" \
  --send /dev/zero --max-send $BYTES --recv /dev/null 2>"$WORK/tx.log"
t1=$(now_ms)
grep -q "sent $BYTES bytes" "$WORK/tx.log" || die "synfin did not send everything: $(tail -1 "$WORK/tx.log")"
echo "    $(mbps $t0 $t1)"

note "kernel -> kernel over a veth pair, $SIZE_MB MB"
NS2="${NS}-b"
ip netns add "$NS2"
trap 'rc=$?; ip netns del "$NS2" 2>/dev/null; (exit $rc); _cleanup' EXIT
nsx ip link add veth0 type veth peer name veth1 netns "$NS2"
nsx ip addr add 10.250.0.1/24 dev veth0
nsx ip link set veth0 up
ip netns exec "$NS2" ip addr add 10.250.0.2/24 dev veth1
ip netns exec "$NS2" ip link set veth1 up
ip netns exec "$NS2" ip link set lo up
ip netns exec "$NS2" timeout 600 socat -b 262144 -u TCP-LISTEN:9002,bind=10.250.0.2,reuseaddr OPEN:/dev/null &
track $!
for _ in $(seq 50); do ip netns exec "$NS2" ss -ltnH "sport = :9002" | grep -q . && break; sleep 0.1; done
t0=$(now_ms)
nsx timeout 600 socat -b 262144 -u "OPEN:/dev/zero,readbytes=$BYTES" TCP:10.250.0.2:9002
t1=$(now_ms)
echo "    $(mbps $t0 $t1)"

note "curl keep-alive requests per second against synfin serve ($REQUESTS requests)"
mkdir -p "$WORK/www"
echo "hello" >"$WORK/www/hello.txt"
start_synfin serve serve --tun "$TUN" --addr "$SADDR/24" --root "$WORK/www" --quiet --max-requests 1000000
CFG=$WORK/rps.curl
: >"$CFG"
for _ in $(seq "$REQUESTS"); do printf 'url = "http://%s/hello.txt"\noutput = "/dev/null"\n' "$SADDR" >>"$CFG"; done
t0=$(now_ms)
nsx curl -s -K "$CFG" -w '%{num_connects}\n' >"$WORK/rps.txt"
t1=$(now_ms)
echo "    $(( REQUESTS * 1000 / (t1 - t0 + 1) )) requests/s on $(awk '{s += $1} END {print s}' "$WORK/rps.txt") connection(s)"

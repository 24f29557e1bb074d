# Shared by the interop tests: a private network namespace with a TUN device in it, the
# kernel's address on one side and synfin's on the other, torn down at exit (also on failure
# or interruption). Nothing here touches the host's own network: every command that sends
# traffic runs inside the namespace.
#
# Usage: source lib.sh; interop_init NAME SYNFIN_BINARY; then $NS, $TUN, $KADDR, $SADDR.
# Exit status 77 means "skipped" (ctest SKIP_RETURN_CODE); under CI=true a machine that
# cannot run the tests is a failure instead, since CI must run them.

set -euo pipefail

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: cannot run the interop tests on this CI machine: $*" >&2
    exit 1
  fi
  echo "SKIPPED: $*" >&2
  exit 77
}

die() {
  echo "FAIL: $*" >&2
  exit 1
}

note() { echo "--- $*"; }

# Runs a command inside the namespace.
nsx() { ip netns exec "$NS" "$@"; }

_cleanup() {
  local rc=$?
  set +e
  # Our background processes first (by pid), then the namespace and scratch space.
  for pid in ${_PIDS:-}; do kill "$pid" 2>/dev/null; done
  sleep 0.2
  for pid in ${_PIDS:-}; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [ -n "${PEER_NS:-}" ] && ip netns del "$PEER_NS" 2>/dev/null
  [ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
  if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "${WORK:-}" ]; then
    echo "(logs of the failed run:)" >&2
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -30 "$f" >&2; }; done
  fi
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  exit $rc
}

# Remember a background process so that cleanup ends it.
track() { _PIDS="${_PIDS:-} $1"; }

interop_init() {
  local name=$1
  SYNFIN=$2
  [ -x "$SYNFIN" ] || die "synfin binary '$SYNFIN' not found"
  [ "$(id -u)" = 0 ] || skip "needs root to create a network namespace and a TUN device"
  [ -c /dev/net/tun ] || skip "/dev/net/tun does not exist on this machine"
  for tool in ip curl socat python3 ss nft sha256sum timeout; do
    command -v "$tool" >/dev/null || skip "'$tool' is not installed (make test installs it)"
  done
  NS="synfin-$name-$$"
  TUN=tun0
  local n=$(( ($$ % 200) + 20 ))
  KADDR="10.$n.0.1"
  SADDR="10.$n.0.2"
  WORK=$(mktemp -d)
  trap _cleanup EXIT
  trap 'exit 130' INT TERM
  ip netns add "$NS" 2>/dev/null || { NS=""; skip "cannot create a network namespace (ip netns add)"; }
  nsx ip link set lo up
  nsx ip tuntap add dev "$TUN" mode tun 2>/dev/null || skip "cannot create a TUN device in a namespace"
  nsx ip addr add "$KADDR/24" dev "$TUN"
  nsx ip link set "$TUN" up
  # No IPv6 chatter (router solicitations) on the device: synfin speaks IPv4.
  nsx sysctl -qw "net.ipv6.conf.$TUN.disable_ipv6=1" 2>/dev/null || true
}

# A second namespace for a kernel peer that synfin reaches through $NS acting as a router
# (a veth pair; $NS forwards between it and the TUN device), so that nftables in $NS's
# forward hook drops the peer's packets on the path: loss that the peer's TCP must detect
# and repair. A drop in the sending host's own output hook is not that: TCP is told the
# transmission failed and sends the segment again later as new data (no retransmission, no
# recovery). The peer's device sends one segment per packet (no GSO), so that a drop is one
# segment and not 44. Sets PEER_NS and PADDR (the peer's address); run commands there with
# peerx.
interop_add_peer() {
  PEER_NS="$NS-peer"
  ip netns add "$PEER_NS" 2>/dev/null || { PEER_NS=""; die "cannot create a second network namespace"; }
  local net=${KADDR%.0.1}.1
  PADDR="$net.2"
  peerx ip link set lo up
  nsx ip link add veth-r type veth peer name veth-p netns "$PEER_NS"
  nsx ip addr add "$net.1/24" dev veth-r
  nsx ip link set veth-r up
  peerx ip addr add "$PADDR/24" dev veth-p
  peerx ip link set veth-p gso_max_segs 1
  peerx ip link set veth-p up
  peerx ip route add "${KADDR%.1}.0/24" via "$net.1"
  nsx sysctl -qw net.ipv4.ip_forward=1
}
peerx() { ip netns exec "$PEER_NS" "$@"; }

# Starts `synfin ARGS...` in the namespace in the background, logging to $WORK/NAME.log,
# and waits until its device answers (or it died).
start_synfin() {
  local log=$1
  shift
  ip netns exec "$NS" "$SYNFIN" "$@" >"$WORK/$log.log" 2>&1 &
  SYNFIN_PID=$!
  track "$SYNFIN_PID"
  for _ in $(seq 50); do
    kill -0 "$SYNFIN_PID" 2>/dev/null || die "synfin $* exited at once: $(cat "$WORK/$log.log")"
    grep -q "listening on\|connecting to" "$WORK/$log.log" && return 0
    sleep 0.1
  done
  die "synfin $* did not start within 5 s"
}

# Sends SIGTERM to a synfin started by start_synfin and waits (bounded) for its exit status.
stop_synfin() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  local rc=0
  timeout 15 tail --pid="$pid" -f /dev/null || die "synfin (pid $pid) did not exit within 15 s of SIGTERM"
  wait "$pid" || rc=$?
  return $rc
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

same_file() {
  local want=$1 got=$2 what=$3
  [ -f "$got" ] || die "$what: nothing received ($got missing)"
  [ "$(sha "$want")" = "$(sha "$got")" ] ||
    die "$what: bytes differ (sent $(stat -c %s "$want") bytes, received $(stat -c %s "$got"))"
}

# Kernel-side states that mean a connection is stuck half-closed.
assert_no_stuck() {
  local what=$1 stuck
  stuck=$(nsx ss -tanH state fin-wait-2 state close-wait state last-ack state fin-wait-1 state closing | wc -l)
  if [ "$stuck" -ne 0 ]; then
    nsx ss -tan >&2
    die "$what: $stuck kernel connection(s) left in FIN-WAIT/CLOSE-WAIT/LAST-ACK/CLOSING"
  fi
}

now_ms() { date +%s%3N; }

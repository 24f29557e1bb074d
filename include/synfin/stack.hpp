// The Stack: one owner of every connection, listener, timer and buffer (DESIGN principle 4).
// It takes IP packets with receive(), hands out what is due with transmit(), and says when
// it next needs time with next_deadline(). Applications use sockets through handles.
//
// Nothing here reads a clock or does I/O: the caller passes `now` into every call.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "synfin/config.hpp"
#include "synfin/error.hpp"
#include "synfin/handle.hpp"
#include "synfin/result.hpp"
#include "synfin/tcp_state.hpp"
#include "synfin/time.hpp"
#include "synfin/trace.hpp"
#include "wire/ipv4.hpp"

namespace synfin {

namespace tcp {
struct ConnectionInfo;
}

using wire::Ipv4Addr;

struct Interface {
  Ipv4Addr addr;
  std::uint8_t prefix_len = 24;
  std::uint16_t mtu = 1500;
  // The device computes the TCP checksum of what is sent and has verified that of what
  // arrives (checksum offload, as the kernel's loopback and most NICs do): the stack neither
  // computes nor checks it on this interface. Off by default: synfin does both (MUST-2, MUST-3).
  bool checksum_offload = false;
};

struct StackConfig {
  TcpConfig tcp;
  // Secret for ISNs (RFC 6528) and the demultiplexing hash; draw it from a CSPRNG.
  std::array<std::uint8_t, 16> secret{};
  // Seed for ephemeral port choice (RFC 6056 algorithm 1).
  std::uint64_t seed = 1;
  std::uint16_t ephemeral_low = 49152;
  std::uint16_t ephemeral_high = 65535;
  std::uint32_t max_connections = 1u << 22;
  // IP header fields of what we send (MUST-48, MUST-49).
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  bool answer_ping = true;
  // ICMP "administratively prohibited" (destination unreachable codes 9, 10 and 13) aborts
  // an opening connection like codes 2 and 3 do (FreeBSD's choice; RFC 1122 names 2 to 4).
  bool icmp_prohibited_is_hard = false;
  // Half-open connections a listener may hold when its own backlog allows more.
  std::uint32_t max_syn_backlog = 1024;
  // A connection in TIME-WAIT that the application has let go of shrinks to a compact
  // record (under 128 bytes all-in) that answers the peer exactly as the connection would.
  // false keeps whole connections, for comparing the two.
  bool compact_time_wait = true;
  // A name for trace lines when several stacks share a sink.
  std::string name = "stack";
};

enum class SocketEventKind : std::uint8_t {
  connected,
  readable,
  writable,
  peer_closed,  // FIN received: recv() returns 0 once the data is read
  reset,        // RST received; error() says refused or reset
  closed,       // the connection is gone; error() says why (none: orderly)
  accept_ready, // a listener has a connection to accept()
  error,        // a soft error (ICMP, retransmission threshold R1); the connection goes on
  urgent,       // urgent data is pending
};

std::string_view to_string(SocketEventKind k);

struct SocketEvent {
  Handle socket;
  SocketEventKind kind;
  Error error = Error::none;
};

struct Counters {
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t segments_in = 0;
  std::uint64_t segments_out = 0;
  std::uint64_t resets_in = 0;
  std::uint64_t resets_out = 0;
  std::uint64_t retransmissions = 0;
  std::uint64_t icmp_in = 0;
  std::uint64_t icmp_out = 0;
  std::uint64_t connections_opened = 0;   // active opens
  std::uint64_t connections_accepted = 0; // passive opens that completed
  std::uint64_t listen_overflows = 0;
  // Connections that reached the retransmission threshold R1: the "negative advice" of
  // RFC 9293 section 3.8.3 (MUST-20). With one route per destination there is nothing
  // else for IP to try; the count and the application's error event are the advice.
  std::uint64_t retransmit_thresholds = 0;
  // Connections that went on in TIME-WAIT as a compact record (StackConfig::compact_time_wait).
  std::uint64_t time_wait_compacted = 0;
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::array<std::uint64_t, kTcpStateCount> connections_by_state{};

  std::uint64_t drop_count(DropReason r) const { return drops[static_cast<std::size_t>(r)]; }
  std::uint64_t total_drops() const;
};

struct ConnectOptions {
  Ipv4Addr local_addr;          // unspecified: chosen by route (MUST-44)
  std::uint16_t local_port = 0; // 0: an ephemeral port (RFC 6056)
};

// Socket options. Fields left unset keep their current value.
struct SocketOptions {
  std::optional<bool> no_delay;
  std::optional<bool> keepalive;
  std::optional<Duration> keepalive_idle;
  std::optional<Duration> keepalive_interval;
  std::optional<std::uint8_t> keepalive_probes;
  std::optional<Duration> user_timeout;
  // Buffer sizes in bytes, before the connection opens (or on a listener). A size set here
  // is kept: auto-tuning no longer grows that buffer (as Linux does once SO_SNDBUF or
  // SO_RCVBUF is set), so send() takes no more than send_buffer.
  std::optional<std::uint32_t> send_buffer;
  std::optional<std::uint32_t> recv_buffer;
  // Linger with a zero timeout: close() resets instead of closing gracefully.
  std::optional<bool> linger_zero;
  // The IPv4 TOS byte (DSCP and ECN) of this connection's packets; may change at any time
  // (MUST-48, SHLD-21).
  std::optional<std::uint8_t> tos;
  // Soft errors (ICMP, retransmission threshold R1) as `error` events; on by default (SHLD-20).
  std::optional<bool> report_soft_errors;
  // How long connect() keeps retransmitting its SYN (at least 3 minutes by default, MUST-23).
  std::optional<Duration> syn_timeout;
  // No TCP options at all in the handshake, not even MSS (BSD's TCP_NOOPT). Set it before
  // connect(), or on a listener for the connections it accepts.
  std::optional<bool> no_options;
  // The congestion control of this connection (RFC 9438 CUBIC or RFC 5681 NewReno); the
  // stack's TcpConfig::congestion by default. Set it before connect() (open() then start()),
  // on a listener for the connections it accepts, or on an established connection, which
  // goes on from its current cwnd and ssthresh.
  std::optional<CongestionAlgorithm> congestion;

  // Sets every field that `o` sets and leaves the others.
  void update(const SocketOptions& o);
};

// Which loss recovery a connection is in.
enum class RecoveryKind : std::uint8_t {
  none,
  sack,     // RFC 6675, driven by the SACK scoreboard (SACK was negotiated)
  newreno,  // RFC 6582, for a peer without SACK
};

constexpr std::string_view to_string(RecoveryKind k) {
  switch (k) {
    case RecoveryKind::none: return "none";
    case RecoveryKind::sack: return "sack";
    case RecoveryKind::newreno: return "newreno";
  }
  return "?";
}

struct SocketInfo {
  TcpState state = TcpState::closed;
  Ipv4Addr local_addr;
  std::uint16_t local_port = 0;
  Ipv4Addr remote_addr;
  std::uint16_t remote_port = 0;
  Duration srtt{};
  Duration rttvar{};
  Duration rto{};
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0;
  std::uint32_t snd_mss = 0;
  std::uint32_t rcv_mss = 0;
  std::uint32_t snd_wnd = 0;
  std::uint32_t rcv_wnd = 0;
  std::uint32_t unacked = 0;
  std::uint32_t send_queued = 0;
  std::uint32_t recv_queued = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t segments_in = 0;
  std::uint64_t segments_out = 0;
  std::uint32_t retransmissions = 0;
  std::uint32_t timeouts = 0;
  std::uint32_t dupacks_received = 0;
  bool in_recovery = false;
  RecoveryKind recovery = RecoveryKind::none;
  CongestionAlgorithm congestion = CongestionAlgorithm::cubic;
  // Options negotiated in the handshake (RFC 7323, RFC 2018) and the window shifts in use.
  bool sack = false;
  bool timestamps = false;
  bool window_scaling = false;
  std::uint8_t snd_wscale = 0;     // applied to the windows the peer announces
  std::uint8_t rcv_wscale = 0;     // applied to the windows we announce
  // The sender's SACK scoreboard: bytes above SND.UNA the peer has SACKed, in how many
  // disjoint blocks.
  std::uint32_t sacked_bytes = 0;
  std::uint32_t sack_blocks = 0;
  std::uint32_t fast_retransmits = 0;  // loss recoveries entered (NewReno or SACK)
  std::uint32_t sack_recoveries = 0;   // ... of which RFC 6675 SACK recoveries
  std::uint32_t dsacks_received = 0;   // D-SACK blocks from the peer (RFC 2883)
  std::uint32_t paws_drops = 0;        // segments dropped by PAWS (RFC 7323 section 5)
  Error last_error = Error::none;
  bool listening = false;
  std::uint32_t recv_buffer = 0;   // current buffer capacities (they grow with auto-tuning)
  std::uint32_t send_buffer = 0;
  std::uint32_t accept_queue = 0;  // listeners: connections waiting for accept()
  std::uint32_t syn_queue = 0;     // listeners: half-open connections
};

// Receives the packets a stack sends.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void send_packet(std::span<const std::uint8_t> packet, Instant now) = 0;
};

class Stack {
 public:
  explicit Stack(StackConfig config);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  const StackConfig& config() const;
  // Changes the TCP configuration at run time, as a sysctl does: every connection, old and
  // new, follows it from now on (each interface keeps its MTU). Buffer capacities already
  // given to connections stay.
  void update_tcp_config(const TcpConfig& tcp);
  void add_interface(const Interface& iface);
  const std::vector<Interface>& interfaces() const;

  // --- the network side ---
  // An IP packet arrived.
  void receive(std::span<const std::uint8_t> packet, Instant now);
  // Runs the timers that are due.
  void poll(Instant now);
  // Hands every queued outgoing packet to `sink`; returns how many.
  std::size_t transmit(PacketSink& sink, Instant now);
  // Packets waiting in the transmit queue.
  std::size_t pending_packets() const;
  // When poll() must next be called; kNever if no timer runs.
  Instant next_deadline() const;

  // --- sockets ---
  Result<Handle, Error> listen(Ipv4Addr local, std::uint16_t port, std::uint32_t backlog);
  Result<Handle, Error> accept(Handle listener);
  Result<Handle, Error> connect(Ipv4Addr remote, std::uint16_t port, Instant now,
                                const ConnectOptions& opts = {});
  // connect() in two steps: open a connection that has not sent its SYN yet, so that
  // options (buffer sizes, no_options, syn_timeout) can be set first; then start() it.
  Result<Handle, Error> open(Ipv4Addr remote, std::uint16_t port, const ConnectOptions& opts = {});
  Error start(Handle h, Instant now);
  Result<std::uint32_t, Error> send(Handle h, std::span<const std::uint8_t> data, Instant now);
  Result<std::uint32_t, Error> send_urgent(Handle h, std::span<const std::uint8_t> data, Instant now);
  // Returns 0 at end of stream; Error::would_block when nothing is there yet.
  Result<std::uint32_t, Error> recv(Handle h, std::span<std::uint8_t> out, Instant now);
  // Closes the sending side (FIN after the queued data); reading goes on.
  Error shutdown(Handle h, Instant now);
  // Gives the handle back. The connection closes gracefully in the background (or is reset
  // when unread data remains, or with linger_zero). Closing a listener resets the
  // connections it has not handed out.
  Error close(Handle h, Instant now);
  Error abort(Handle h, Instant now);
  Error set_options(Handle h, const SocketOptions& opts, Instant now);
  Result<SocketInfo, Error> info(Handle h) const;
  std::uint32_t urgent_pending(Handle h) const;

  // --- events, counters, tracing ---
  bool next_event(SocketEvent& out);
  std::vector<SocketEvent> drain_events();
  const Counters& counters() const;
  // Connections alive (any state but CLOSED), listeners excluded.
  std::size_t connection_count() const;
  std::size_t listener_count() const;
  // Timers scheduled in the wheel (for leak checks: 0 when nothing is open).
  std::size_t timer_count() const;
  // Bytes held in send and receive buffers across all connections.
  std::size_t buffered_bytes() const;
  void set_trace(TraceSink* sink);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace synfin

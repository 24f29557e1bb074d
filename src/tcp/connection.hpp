// One TCP connection as a sans-IO state machine: RFC 9293 connection management, RFC 6298
// retransmission, RFC 5681/6582 congestion control, RFC 5961 defences.
//
// Inputs: validated segments with the current time (on_segment), user calls (open, send,
// receive, close, shutdown, abort, status), and timer expiry (on_timer, when now reaches
// next_deadline()). Outputs go to the ConnectionHost: segments to transmit, events for the
// application, and trace notes. Nothing here reads a clock or does I/O.
//
// Naming follows the RFC: snd_una, snd_nxt, snd_wnd, rcv_nxt, iss, irs. One addition:
// snd_max_ is the highest sequence number sent (the RFC's SND.NXT when nothing has been
// resent); after a timeout snd_nxt_ is pulled back to snd_una_ and walks forward again.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "synfin/config.hpp"
#include "synfin/drop_reason.hpp"
#include "synfin/error.hpp"
#include "synfin/result.hpp"
#include "synfin/tcp_state.hpp"
#include "synfin/time.hpp"
#include "storage/assembler.hpp"
#include "storage/ring_buffer.hpp"
#include "tcp/isn.hpp"
#include "tcp/congestion.hpp"
#include "tcp/rtt.hpp"
#include "wire/seq.hpp"
#include "wire/tcp.hpp"

namespace synfin::tcp {

using wire::Seq;

// Something the application learns about its connection.
enum class EventKind : std::uint8_t {
  connected,    // the handshake completed
  readable,     // in-order data is waiting (or the peer closed: receive returns 0)
  writable,     // the send buffer has room again after it was full
  peer_closed,  // the peer sent FIN: no more data will arrive (MUST-12)
  reset,        // the peer sent RST (MUST-12); error() says refused or reset
  closed,       // the connection is gone; error() says why (none: an orderly close)
  soft_error,   // a problem that does not end the connection (MUST-47, SHLD-9)
  urgent,       // the urgent pointer is new or has advanced (MUST-32)
};

constexpr std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::connected: return "connected";
    case EventKind::readable: return "readable";
    case EventKind::writable: return "writable";
    case EventKind::peer_closed: return "peer closed";
    case EventKind::reset: return "reset";
    case EventKind::closed: return "closed";
    case EventKind::soft_error: return "soft error";
    case EventKind::urgent: return "urgent";
  }
  return "?";
}

struct Event {
  EventKind kind;
  Error error = Error::none;
};

enum class TimerKind : std::uint8_t { retransmit, persist, delayed_ack, keepalive, time_wait, sws };

constexpr std::string_view to_string(TimerKind k) {
  switch (k) {
    case TimerKind::retransmit: return "retransmit";
    case TimerKind::persist: return "persist";
    case TimerKind::delayed_ack: return "delayed-ack";
    case TimerKind::keepalive: return "keepalive";
    case TimerKind::time_wait: return "time-wait";
    case TimerKind::sws: return "sws-override";
  }
  return "?";
}

// A segment the connection wants sent. Payload bytes live in the send buffer and are valid
// only during the emit() call (at most two pieces, as the ring may wrap).
struct OutSegment {
  wire::TcpHeaderFields header;
  wire::TcpOptions options;
  std::array<std::span<const std::uint8_t>, 2> payload{};
  bool retransmission = false;

  std::uint32_t payload_size() const {
    return static_cast<std::uint32_t>(payload[0].size() + payload[1].size());
  }
};

class Connection;
struct TimeWaitRecord;

// The owner of a connection: the stack, a test harness, the demo.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  // Serialize and queue the segment (IP header, checksum) for transmission.
  virtual void emit(Connection& c, const OutSegment& seg) = 0;
  // An event for the application.
  virtual void deliver(Connection& c, Event e) = 0;
  // The ISN for a new connection on this 4-tuple (RFC 9293 section 3.4.1).
  virtual Seq choose_isn(const FourTuple& tuple, Instant now) = 0;
  // The offset of this 4-tuple's timestamp clock (RFC 7323 section 7.1): stable per tuple,
  // so that timestamps rise across incarnations (RFC 6191). Default: 0.
  virtual std::uint32_t timestamp_offset(const FourTuple&) { return 0; }
  // Trace notes; default: ignore.
  virtual void state_changed(Connection&, TcpState, TcpState, StateCause) {}
  virtual void dropped(Connection&, const wire::TcpSegment&, DropReason) {}
  virtual void timer_fired(Connection&, TimerKind) {}
  // A pure ACK is due after a segment arrived. The default sends it at once; an owner that
  // processes packets in batches may hold it and call send_pending_ack() once the whole
  // batch is processed, so that one ACK covers them all (MUST-58, MUST-59).
  virtual void ack_deferred(Connection& c, Instant now);
  // Where emptied buffers leave their memory for the next one; default: none (freed).
  virtual storage::BufferCache* buffer_cache() { return nullptr; }
};

// Per-connection statistics, in the spirit of Linux's TCP_INFO.
struct ConnectionInfo {
  TcpState state = TcpState::closed;
  Duration srtt{};
  Duration rttvar{};
  Duration rto{};
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0;
  std::uint32_t snd_mss = 0;
  std::uint32_t rcv_mss = 0;
  std::uint32_t snd_wnd = 0;
  std::uint32_t rcv_wnd = 0;
  std::uint32_t unacked = 0;       // bytes sent and not yet acknowledged
  std::uint32_t send_queued = 0;   // bytes in the send buffer (unacked + unsent)
  std::uint32_t recv_queued = 0;   // bytes waiting for the application
  std::uint64_t bytes_sent = 0;    // payload bytes, retransmissions included
  std::uint64_t bytes_acked = 0;
  std::uint64_t bytes_received = 0;  // in-order payload bytes accepted
  std::uint64_t segments_in = 0;
  std::uint64_t segments_out = 0;
  std::uint32_t retransmissions = 0;  // segments
  std::uint32_t timeouts = 0;         // RTO expiries
  std::uint32_t fast_retransmits = 0;
  std::uint32_t dupacks_received = 0;
  std::uint32_t challenge_acks = 0;
  std::uint32_t out_of_order_segments = 0;
  std::uint32_t zero_window_probes = 0;
  std::uint32_t keepalive_probes = 0;
  bool in_recovery = false;
  bool sack_recovery = false;       // the current recovery is RFC 6675 (else RFC 6582)
  bool window_scaling = false;      // negotiated options
  bool timestamps = false;
  bool sack = false;
  std::uint8_t snd_wscale = 0;
  std::uint8_t rcv_wscale = 0;
  std::uint32_t sacked_bytes = 0;   // bytes the peer has SACKed above SND.UNA
  std::uint32_t sack_blocks = 0;    // disjoint ranges in the sender's scoreboard
  std::uint32_t sack_recoveries = 0;
  std::uint32_t dsacks_received = 0;
  std::uint32_t paws_drops = 0;
  std::uint32_t recv_buffer = 0;    // current capacities (auto-tuned)
  std::uint32_t send_buffer = 0;
  CongestionAlgorithm congestion = CongestionAlgorithm::cubic;
  Error last_error = Error::none;
};

// Options a user may set per connection.
struct ConnectionOptions {
  Duration keepalive_idle{};
  Duration keepalive_interval{};
  // R2 for data (MUST-21); zero: the stack's r2_timeout; kNoTimeout: never give up.
  Duration user_timeout{};
  // How long an opening connection keeps retransmitting its SYN; zero: syn_r2_timeout.
  Duration syn_timeout{};
  bool no_delay = false;
  bool keepalive = false;
  std::uint8_t keepalive_probes = 0;
  // No TCP options at all in the handshake, not even MSS (BSD's TCP_NOOPT).
  bool no_options = false;
  static constexpr Duration kNoTimeout = Duration::max();
};

class Connection {
 public:
  Connection(ConnectionHost& host, const TcpConfig& config, const FourTuple& tuple);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // --- user calls (RFC 9293 section 3.10.1 to 3.10.6) -------------------------------------
  Error open_active(Instant now);
  Error open_passive();
  // Queues data; returns the bytes taken (fewer when the buffer is nearly full).
  Result<std::uint32_t, Error> send(std::span<const std::uint8_t> data, Instant now);
  // Queues data as urgent: the urgent pointer will mark the byte after it (MUST-30, MUST-62).
  Result<std::uint32_t, Error> send_urgent(std::span<const std::uint8_t> data, Instant now);
  // Reads in-order data; returns 0 at end of stream (the peer closed), would_block when
  // nothing is there yet, reset/timed_out/... when the connection failed.
  Result<std::uint32_t, Error> receive(std::span<std::uint8_t> out, Instant now);
  // Half-close: no more sends; a FIN follows the queued data. Reading continues.
  Error shutdown_write(Instant now);
  // Full close: shutdown_write, and the application will not read again. With unread data
  // the connection is reset instead (SHLD-3), as the major stacks do.
  Error close(Instant now);
  void abort(Instant now);
  ConnectionInfo info() const;

  // --- options ---------------------------------------------------------------------------
  void set_no_delay(bool on, Instant now);
  void set_keepalive(bool on, Instant now);
  void set_keepalive_params(Duration idle, Duration interval, std::uint8_t probes, Instant now);
  void set_user_timeout(Duration d) { opts_.user_timeout = d; }
  void set_syn_timeout(Duration d) { opts_.syn_timeout = d; }
  void set_no_options(bool on) { opts_.no_options = on; }
  const ConnectionOptions& options() const { return opts_; }
  Error set_buffer_sizes(std::uint32_t send_bytes, std::uint32_t recv_bytes);
  // A size the user chose is kept: auto-tuning leaves that buffer alone (as Linux does once
  // SO_SNDBUF or SO_RCVBUF is set).
  void lock_buffer_sizes(bool send, bool recv);
  // Path MTU changed (ICMP fragmentation needed): lower the effective MSS, never abort.
  void path_mtu_changed(std::uint16_t mtu, Instant now);
  // An ICMP soft error for this connection (MUST-56: never aborts by itself).
  void soft_error(Error e);
  // An ICMP hard error (SHLD-26): abort unless the connection is established and
  // exchanging data... we follow RFC 5927 and only abort in the opening states.
  void hard_error(Error e, Instant now);

  // --- network and time -------------------------------------------------------------------
  void on_segment(const wire::TcpSegment& seg, Instant now);
  void on_timer(Instant now);
  // Sends the ACK that ack_deferred() announced, if it is still due.
  void send_pending_ack(Instant now);
  // The congestion control of this connection: before the handshake it is the one the
  // connection starts with; later it takes over with the current cwnd and ssthresh.
  void set_congestion(CongestionAlgorithm a) {
    cc_algo_ = a;
    cc_.set_algorithm(a);
  }
  Instant next_deadline() const;

  // --- inspection ------------------------------------------------------------------------
  TcpState state() const { return state_; }
  const FourTuple& tuple() const { return tuple_; }
  Seq iss() const { return iss_; }
  Seq irs() const { return irs_; }
  Seq snd_una() const { return snd_una_; }
  Seq snd_nxt() const { return snd_nxt_; }
  Seq rcv_nxt() const { return rcv_nxt_; }
  bool timestamps_in_use() const { return ts_ok_; }
  std::uint32_t ts_recent() const { return ts_recent_; }
  std::uint32_t snd_wnd() const { return snd_wnd_; }
  std::uint32_t rcv_wnd() const;
  std::uint16_t snd_mss() const { return snd_mss_; }
  bool passive_open() const { return passive_open_; }
  // Bytes of urgent data not yet read (MUST-33); 0 when none is pending.
  std::uint32_t urgent_pending() const;
  std::uint32_t readable_bytes() const { return rcv_buf_.size(); }
  std::uint32_t send_space() const { return snd_buf_.free_space(); }
  bool peer_fin_received() const { return fin_received_; }
  Error error() const { return error_; }

  // TIME-WAIT in a compact record (time_wait.hpp): possible once nothing but TIME-WAIT's own
  // work is left (the ACK of the peer's FIN sent, no data unread, no SACK block to report).
  // The record answers every later segment as this connection would; the connection is then
  // finished with.
  bool compactable() const;
  TimeWaitRecord to_time_wait_record();

  // The RST (if any) that answers a segment reaching no connection, per RFC 9293 section
  // 3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  static bool reset_for(const wire::TcpSegment& seg, OutSegment& out);

 private:
  // segment arrival, one function per step of RFC 9293 section 3.10.7
  void closed_arrives(const wire::TcpSegment& seg);
  void listen_arrives(const wire::TcpSegment& seg, Instant now);
  void syn_sent_arrives(const wire::TcpSegment& seg, Instant now);
  void synchronized_arrives(const wire::TcpSegment& seg, Instant now);
  bool check_sequence(const wire::TcpSegment& seg, Seq& seq, std::span<const std::uint8_t>& data,
                      bool& fin, Instant now);
  bool check_rst(const wire::TcpSegment& seg, Instant now);
  bool check_syn(const wire::TcpSegment& seg, Instant now);
  bool check_ack(const wire::TcpSegment& seg, Instant now);
  void check_urg(const wire::TcpSegment& seg);
  void process_text(Seq seq, std::span<const std::uint8_t> data, bool push, Instant now);
  void check_fin(Seq fin_seq, Instant now);
  void process_fin(Instant now);
  void deliver_in_order(std::uint32_t ready, bool had_holes, Instant now);
  void queue_syn_text(const wire::TcpSegment& syn, bool keep_text);

  // ACK handling
  void ack_advanced(const wire::TcpSegment& seg, Seq old_una, Instant now);
  void update_window(const wire::TcpSegment& seg, Instant now);
  void take_rtt_sample(const wire::TcpSegment& seg, Instant now);
  std::uint32_t seg_window(const wire::TcpSegment& seg) const {
    // RFC 7323 section 2.2: the window of a SYN is never scaled.
    return seg.syn() ? seg.window : static_cast<std::uint32_t>(seg.window) << snd_wscale_;
  }

  // timestamps (RFC 7323)
  std::uint32_t ts_now(Instant now) const;
  bool paws_rejects(const wire::TcpSegment& seg, Instant now) const;
  void update_ts_recent(const wire::TcpSegment& seg, Instant now);

  // loss recovery (recovery.cpp): RFC 6582 NewReno, RFC 6675 SACK-based, RFC 3042
  void on_duplicate_ack(const wire::TcpSegment& seg, bool new_sack, Instant now);
  void enter_recovery(Instant now);
  void recovery_ack(std::uint32_t acked, Instant now);
  bool sack_scoreboard_update(const wire::TcpSegment& seg);
  void sack_scoreboard_trim();
  bool is_lost(Seq s) const;
  std::uint32_t pipe() const;
  bool next_segment(Seq& seq, std::uint32_t& len, bool& rtx, bool& rescue) const;
  void sack_output(Instant now);
  void end_recovery();

  // the receiver's SACK blocks (RFC 2018, RFC 2883)
  void note_sack_block(Seq left, Seq right);
  void prune_sack_blocks();
  void note_duplicate(Seq left, Seq right);
  void add_sack_option(wire::TcpOptions& o, std::size_t room) const;

  // auto-tuning
  void tune_receive_buffer(std::uint32_t copied, Instant now);
  void tune_send_buffer();
  void round_buffers_to_mss();
  std::uint32_t payload_mss() const { return snd_mss_ - (ts_ok_ ? 12u : 0u); }
  std::uint8_t our_window_scale() const;

  // output
  void output(Instant now);
  void send_syn(bool with_ack, Instant now);
  void send_ack(Instant now);
  void ack_due(Instant now);
  void send_rst(Seq seq);
  void send_challenge_ack(Instant now);
  bool ack_rate_allows(Instant now);
  void emit_data(Seq seq, std::uint32_t len, std::uint8_t extra_flags, bool rtx, Instant now);
  void fill_common(OutSegment& s, Seq seq, std::uint8_t flags, Instant now);
  std::uint16_t window_to_advertise();
  void add_syn_options(wire::TcpOptions& o, bool syn_ack, Instant now) const;
  void schedule_ack(bool immediate, Instant now);
  void maybe_window_update(Instant now);

  // timers
  void on_retransmit_timeout(Instant now);
  void on_persist_timeout(Instant now);
  void on_keepalive_timeout(Instant now);
  void arm_retransmit(Instant now);
  void restart_retransmit(Instant now);
  Instant r2_deadline(Instant start) const;
  void restart_keepalive(Instant now);
  Duration r2_limit() const;

  // state
  void set_state(TcpState s, StateCause why);
  void enter_time_wait(Instant now);
  void become_closed(StateCause why, Error err);
  void return_to_listen(StateCause why);
  void establish(Instant now);
  void negotiate_options(const wire::TcpSegment& syn, Instant now);
  void notify(EventKind k, Error e = Error::none);

  // helpers
  Seq data_end() const { return snd_data_base_ + snd_buf_.size(); }
  std::uint32_t flight_size() const { return snd_max_.since(snd_una_); }
  bool fin_sent() const { return fin_queued_ && snd_max_ == data_end() + 1; }
  bool fin_acked() const { return fin_queued_ && snd_una_ == data_end() + 1; }
  std::uint16_t local_mss() const;
  void release_buffers();
  void drop(const wire::TcpSegment& seg, DropReason r);

  // What most connections never need, allocated the first time one does (DESIGN principle
  // 6): out-of-order data and SACK state, urgent pointers, the challenge-ACK limiter and the
  // counters of rare events. A bulk transfer without loss never allocates it.
  struct Extras {
    storage::Assembler ooo;                         // ranges held beyond RCV.NXT
    std::array<wire::SackBlock, 4> sack_recent{};   // the receiver's recent SACK blocks
    wire::SackBlock dsack{};                        // the D-SACK block to report
    std::vector<wire::SackBlock> scoreboard;        // SACKed ranges above SND.UNA, sorted
    Seq snd_up;                                     // while has_snd_urgent_
    Seq rcv_up;                                     // while has_urgent_
    Instant challenge_window{};                     // RFC 5961 section 7 rate limit
    std::uint16_t challenge_count = 0;
    bool snd_buf_locked = false;  // the user set the send buffer's size: no auto-tuning
    bool rcv_buf_locked = false;  // likewise the receive buffer's
    std::uint32_t timeouts = 0;
    std::uint32_t fast_retransmits = 0;
    std::uint32_t dupacks_received = 0;
    std::uint32_t challenge_acks = 0;
    std::uint32_t out_of_order_segments = 0;
    std::uint32_t zero_window_probes = 0;
    std::uint32_t keepalive_probes = 0;
    std::uint32_t sack_recoveries = 0;
    std::uint32_t dsacks_received = 0;
    std::uint32_t paws_drops = 0;
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  // Reading never allocates: without Extras the scoreboard is empty.
  const std::vector<wire::SackBlock>& scoreboard() const;
  bool has_out_of_order() const { return extras_ && !extras_->ooo.empty(); }

  // The counters every connection keeps (the rest are in Extras).
  struct Stats {
    std::uint64_t bytes_sent = 0;  // payload bytes, retransmissions included
    std::uint64_t bytes_acked = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t segments_in = 0;
    std::uint64_t segments_out = 0;
    std::uint32_t retransmissions = 0;
    Error last_error = Error::none;
  };

  // The members are ordered to leave no padding: the control block of an idle connection is
  // most of what it costs.
  ConnectionHost* host_;
  const TcpConfig* cfg_;
  std::unique_ptr<Extras> extras_;
  ConnectionOptions opts_;
  FourTuple tuple_;
  // The remote port as the passive OPEN gave it (MUST-11: back to LISTEN); listen_arrives
  // fills in the rest of tuple_'s remote side only through the port.
  std::uint16_t listen_remote_port_ = 0;

  TcpState state_ = TcpState::closed;
  bool passive_open_ = false;   // SYN-RECEIVED was reached from LISTEN (MUST-11)
  bool fin_queued_ = false;     // the user closed the sending side: a FIN follows the data
  bool read_closed_ = false;    // the user closed fully: it will not read again
  bool fin_received_ = false;   // the peer's FIN has been processed
  bool fin_pending_ = false;    // a FIN arrived out of order, at fin_seq_
  bool ack_now_ = false;
  bool ack_delayed_ = false;
  bool syn_retransmitted_ = false;
  bool rtt_timing_ = false;
  bool writable_wanted_ = false;  // a send found the buffer full
  bool close_when_established_ = false;
  bool has_urgent_ = false;       // extras_->rcv_up is meaningful
  bool has_snd_urgent_ = false;   // extras_->snd_up is meaningful
  bool defer_ack_ = false;        // inside on_segment: a pure ACK goes through ack_deferred()
  bool plain_ack_ = false;        // the ACK being sent is a challenge ACK
  bool ever_opened_ = false;      // it has left CLOSED once: it is not reopened

  // negotiated options
  bool ws_ok_ = false;
  bool ts_ok_ = false;
  bool sack_ok_ = false;
  std::uint8_t snd_wscale_ = 0;  // applied to windows the peer sends
  std::uint8_t rcv_wscale_ = 0;  // applied to windows we send
  CongestionAlgorithm cc_algo_ = CongestionAlgorithm::cubic;

  // loss recovery
  enum class Recovery : std::uint8_t { none, newreno, sack };
  Recovery recovery_ = Recovery::none;
  bool have_recover_ = false;
  bool rescue_sent_ = false;
  std::uint8_t dupacks_ = 0;
  // the receiver's recent SACK blocks (in Extras), most recent first (RFC 2018 section 4)
  std::uint8_t sack_recent_count_ = 0;
  bool dsack_pending_ = false;

  std::uint8_t rcv_unacked_segments_ = 0;
  std::uint8_t retransmits_ = 0;     // consecutive timeouts of the same data
  std::uint8_t persist_backoff_ = 0;
  std::uint8_t keepalive_sent_ = 0;
  Error error_ = Error::none;
  std::uint16_t snd_mss_ = 536;
  std::uint16_t rcv_mss_ = 536;

  // send sequence space
  Seq iss_;
  Seq snd_una_;
  Seq snd_nxt_;
  Seq snd_max_;
  Seq snd_wl1_;
  Seq snd_wl2_;
  Seq snd_data_base_;  // the sequence number of snd_buf_'s first byte
  std::uint32_t snd_wnd_ = 0;
  std::uint32_t max_snd_wnd_ = 0;

  // receive sequence space
  Seq irs_;
  Seq rcv_nxt_;
  Seq rcv_adv_;  // the right edge we last advertised: RCV.NXT + RCV.WND
  Seq rcv_read_;  // the sequence number of the next byte the application will read
  Seq fin_seq_;
  std::uint32_t rcv_unacked_bytes_ = 0;  // in-order bytes received since the last ACK sent

  Seq rtt_seq_;
  Seq recover_;      // RFC 6582 "recover", RFC 6675 RecoveryPoint
  Seq high_rxt_;     // RFC 6675 HighRxt: the highest octet retransmitted in this recovery
  std::uint32_t sacked_bytes_ = 0;  // bytes in the scoreboard

  std::uint32_t ts_offset_ = 0;
  std::uint32_t ts_recent_ = 0;  // RFC 7323 TS.Recent
  Seq last_ack_sent_;            // RFC 7323 Last.ACK.sent
  // auto-tuning: bytes the application read in the current measurement period
  std::uint32_t rcv_space_copied_ = 0;

  RttEstimator rtt_;
  Instant rtt_time_{};
  Congestion cc_;
  Instant ts_recent_at_{};
  Instant rcv_space_start_{};

  // timers: absolute deadlines, kNever when stopped
  Instant rtx_deadline_ = kNever;
  Instant persist_deadline_ = kNever;
  Instant delack_deadline_ = kNever;
  Instant keepalive_deadline_ = kNever;
  Instant time_wait_deadline_ = kNever;
  Instant sws_deadline_ = kNever;

  Instant opened_at_{};          // first SYN sent or received (for SYN R2)
  // The start of the current R2 period (MUST-20, MUST-21): when data became outstanding
  // with nothing before it, when the peer last acknowledged new data, or when its window
  // reopened. The connection gives up on retransmitting at r2_start_ + R2.
  Instant r2_start_ = kNever;
  Instant last_heard_at_{};      // last segment received (keep-alive, persist R2)
  Instant last_sent_at_{};       // last data sent (idle restart)

  storage::RingBuffer snd_buf_;
  storage::RingBuffer rcv_buf_;

  Stats stats_;
};

}  // namespace synfin::tcp

// Scripted segment tests for one connection, in virtual time.
//
// A test reaches a state through real exchanges (never by setting fields), injects one
// segment, and asserts exactly what comes back, or that nothing does. Every segment in both
// directions goes through the real wire code: the harness serializes what the connection
// emits with its checksum and parses it back (so every emitted checksum is verified), and
// serializes what a test injects before parsing it into the connection.
//
// Sequence numbers in tests are relative, as in packetdrill: what the peer sends is counted
// from the peer's ISN, what we send from our ISS.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "synfin/config.hpp"
#include "tcp/connection.hpp"
#include "wire/tcp.hpp"

namespace synfin::test {

using namespace std::chrono_literals;
using tcp::Connection;
using tcp::Event;
using tcp::EventKind;
using wire::Seq;
namespace flag = wire::tcp_flag;

inline constexpr std::uint8_t SYN = flag::SYN;
inline constexpr std::uint8_t ACK = flag::ACK;
inline constexpr std::uint8_t FIN = flag::FIN;
inline constexpr std::uint8_t RST = flag::RST;
inline constexpr std::uint8_t PSH = flag::PSH;
inline constexpr std::uint8_t URG = flag::URG;

// What the connection sent, parsed back from the wire.
struct Sent {
  std::uint8_t flags = 0;
  Seq seq;
  Seq ack;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  wire::TcpOptions options;
  std::vector<std::uint8_t> payload;
  bool retransmission = false;
  Instant at{};
  std::uint32_t rel_seq = 0;  // seq - our ISS
  std::uint32_t rel_ack = 0;  // ack - peer ISN

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  std::uint32_t len() const { return static_cast<std::uint32_t>(payload.size()); }
  std::string text() const { return std::string(payload.begin(), payload.end()); }
  std::string str() const;
};

// A segment for the test to inject. seq counts from the peer's ISN, ack from our ISS,
// unless `absolute` is set.
struct In {
  std::uint8_t flags = ACK;
  std::uint32_t seq = 1;
  std::uint32_t ack = 1;
  std::uint16_t win = 65535;
  std::string data;
  std::optional<std::uint16_t> mss;
  std::uint16_t urg = 0;
  bool absolute = false;
  std::optional<wire::TcpOptions> options;  // replaces mss when given
  // Raw option bytes (a multiple of 4), written as they are: unknown kinds, odd layouts.
  // Replaces mss and options when not empty.
  std::vector<std::uint8_t> raw_options;
};

struct StateChange {
  TcpState from;
  TcpState to;
  StateCause cause;
  Instant at{};
};

class Harness : public tcp::ConnectionHost {
 public:
  static constexpr std::uint32_t kLocalAddr = 0x0a000001;   // 10.0.0.1
  static constexpr std::uint32_t kRemoteAddr = 0x0a000002;  // 10.0.0.2
  static constexpr std::uint16_t kLocalPort = 4000;
  static constexpr std::uint16_t kRemotePort = 80;

  explicit Harness(TcpConfig cfg = default_config(), std::uint32_t peer_iss = 1000000);

  static TcpConfig default_config();

  // --- reaching a state through real exchanges ---
  void to_listen();
  void to_syn_sent();                 // active open, SYN captured
  void to_syn_received_passive();     // LISTEN + SYN, SYN-ACK captured
  void to_syn_received_active();      // SYN-SENT + crossing SYN (simultaneous open)
  void to_established_active();       // three-way handshake, client side
  void to_established_passive();      // three-way handshake, server side
  void to_fin_wait_1();               // established, we close
  void to_fin_wait_2();               // ... and the peer ACKs our FIN
  void to_close_wait();               // established, the peer sends FIN
  void to_last_ack();                 // close-wait, we close
  void to_closing();                  // fin-wait-1, the peer's FIN crosses ours
  void to_time_wait();                // fin-wait-2, the peer's FIN arrives

  // --- the peer ---
  void in(const In& s);
  // Raw bytes of a TCP segment, as the wire would deliver it (checksum filled in).
  std::vector<std::uint8_t> build(const In& s) const;

  // --- what came back ---
  // Exactly one segment is pending: pop it. Fails the test otherwise.
  Sent out();
  // Pops the next pending segment and checks flags and relative seq/ack.
  Sent expect(std::uint8_t flags, std::uint32_t rel_seq, std::uint32_t rel_ack,
              std::uint32_t len = 0);
  void expect_none();
  // Pops the next pending segment, whatever it is (fails the test if there is none).
  Sent next();
  std::vector<Sent> drain();
  std::size_t pending() const { return sent_.size(); }

  // --- time ---
  // Runs timers up to now + d.
  void advance(Duration d);
  // Advances to the next deadline and fires it; returns the time, or kNever.
  Instant fire_next_timer();
  // Advances until something is emitted (or `limit` passes); returns the emission time.
  std::optional<Instant> wait_for_segment(Duration limit = 3600s);
  // Moves the clock without firing timers (they fire on the next advance): for a segment
  // that arrives between two timer events.
  void set_now(Instant t) { now_ = t; }

  // --- the application ---
  void send(std::string_view data);
  // Queues n bytes of a recognisable pattern (byte i of the stream is 'a' + i % 26).
  void send_bytes(std::size_t n);
  static std::string pattern(std::size_t offset, std::size_t n);
  // The peer's relative RCV.NXT and our relative SND.NXT (for exact expectations).
  std::uint32_t rel_rcv_nxt() const { return conn_.rcv_nxt().since(peer_iss_); }
  std::uint32_t rel_snd_nxt() const { return conn_.snd_nxt().since(conn_.iss()); }
  std::string receive(std::size_t max = 1 << 20);
  bool has_event(EventKind k) const;
  std::size_t count_events(EventKind k) const;
  std::optional<Event> last_event(EventKind k) const;
  void clear_events() { events_.clear(); }
  bool events_empty() const { return events_.empty(); }
  const std::vector<Event>& events() const { return events_; }
  const std::vector<StateChange>& changes() const { return changes_; }
  std::vector<TcpState> states_visited() const;
  // When the connection last entered `s`, if it did.
  std::optional<Instant> entered(TcpState s) const;

  Connection& conn() { return conn_; }
  TcpState state() const { return conn_.state(); }
  Instant now() const { return now_; }
  Seq peer_iss() const { return peer_iss_; }
  Seq iss() const { return conn_.iss(); }
  const TcpConfig& config() const { return cfg_; }
  std::size_t drops(DropReason r) const;

  // ConnectionHost
  void emit(Connection& c, const tcp::OutSegment& seg) override;
  void deliver(Connection& c, Event e) override;
  Seq choose_isn(const tcp::FourTuple& t, Instant now) override;
  void state_changed(Connection&, TcpState from, TcpState to, StateCause why) override;
  void dropped(Connection&, const wire::TcpSegment&, DropReason r) override;

 private:
  TcpConfig cfg_;
  tcp::IsnGenerator isn_;
  Connection conn_;
  Instant now_ = at(1000s);
  Seq peer_iss_;
  std::deque<Sent> sent_;
  std::vector<Event> events_;
  std::vector<StateChange> changes_;
  std::vector<DropReason> drops_;
};

}  // namespace synfin::test

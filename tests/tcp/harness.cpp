// The scripted-test harness. See harness.hpp.
#include "tcp/harness.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "wire/checksum.hpp"

namespace synfin::test {

std::string Sent::str() const {
  return fmt::format("{} seq {} ack {} win {} len {}{}{}", wire::flags_to_string(flags), rel_seq,
                     rel_ack, window, payload.size(),
                     options_to_string(options).empty() ? "" : " <" + options_to_string(options) + ">",
                     retransmission ? " (rtx)" : "");
}

TcpConfig Harness::default_config() {
  TcpConfig c;
  c.delayed_ack = Duration::zero();  // tests of delayed ACK switch it on explicitly
  // The base protocol: the RFC 7323 and RFC 2018 options, CUBIC and auto-tuning are
  // switched on by the tests about them (tests/tcp/highperf_*).
  c.window_scaling = false;
  c.timestamps = false;
  c.sack = false;
  c.congestion = CongestionAlgorithm::newreno;
  c.auto_tune = false;
  return c;
}

Harness::Harness(TcpConfig cfg, std::uint32_t peer_iss)
    : cfg_(cfg),
      isn_(std::array<std::uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}),
      conn_(*this, cfg_, tcp::FourTuple{kLocalAddr, kRemoteAddr, kLocalPort, kRemotePort}),
      peer_iss_(peer_iss) {}

// --- ConnectionHost ------------------------------------------------------------------------

void Harness::emit(Connection&, const tcp::OutSegment& seg) {
  // Serialize exactly as the stack will, then parse and verify the checksum (MUST-2).
  std::vector<std::uint8_t> bytes(wire::kTcpMaxHeader + seg.payload_size());
  const std::size_t hl = wire::write_tcp_header(bytes, seg.header, seg.options, cfg_.option_layout);
  std::size_t off = hl;
  for (auto piece : seg.payload) {
    std::copy(piece.begin(), piece.end(), bytes.begin() + static_cast<std::ptrdiff_t>(off));
    off += piece.size();
  }
  bytes.resize(off);
  wire::finish_tcp_checksum_v4(bytes, kLocalAddr, kRemoteAddr);
  wire::PseudoHeaderV4 ph{kLocalAddr, kRemoteAddr};
  auto parsed = wire::parse_tcp(bytes, &ph);
  if (!parsed) {
    ADD_FAILURE() << "emitted segment does not parse: " << to_string(parsed.error());
    return;
  }
  Sent s;
  s.flags = parsed->flags;
  s.seq = parsed->seq;
  s.ack = parsed->ack;
  s.window = parsed->window;
  s.urgent = parsed->urgent;
  s.options = parsed->options;
  s.payload.assign(parsed->payload.begin(), parsed->payload.end());
  s.retransmission = seg.retransmission;
  s.at = now_;
  s.rel_seq = s.seq.since(conn_.iss());
  s.rel_ack = s.ack.since(peer_iss_);
  // MUST-65: the MSS option only ever rides on a SYN.
  if (s.options.has_mss && !s.has(SYN)) ADD_FAILURE() << "MSS option on a non-SYN segment";
  sent_.push_back(std::move(s));
}

void Harness::deliver(Connection&, Event e) { events_.push_back(e); }

Seq Harness::choose_isn(const tcp::FourTuple& t, Instant now) { return isn_.isn(t, now); }

void Harness::state_changed(Connection&, TcpState from, TcpState to, StateCause why) {
  changes_.push_back({from, to, why, now_});
}

void Harness::dropped(Connection&, const wire::TcpSegment&, DropReason r) { drops_.push_back(r); }

std::size_t Harness::drops(DropReason r) const {
  return static_cast<std::size_t>(std::count(drops_.begin(), drops_.end(), r));
}

// --- the peer ------------------------------------------------------------------------------

std::vector<std::uint8_t> Harness::build(const In& s) const {
  wire::TcpHeaderFields f;
  f.src_port = kRemotePort;
  f.dst_port = kLocalPort;
  f.seq = s.absolute ? Seq{s.seq} : peer_iss_ + s.seq;
  f.ack = s.absolute ? Seq{s.ack} : conn_.iss() + s.ack;
  if (!(s.flags & ACK) && !s.absolute) f.ack = Seq{0};
  f.flags = s.flags;
  f.window = s.win;
  f.urgent = s.urg;
  wire::TcpOptions o;
  if (s.options) {
    o = *s.options;
  } else if (s.mss) {
    o.has_mss = true;
    o.mss = *s.mss;
  }
  std::vector<std::uint8_t> bytes(wire::kTcpMaxHeader + s.raw_options.size() + s.data.size());
  std::size_t hl = 0;
  if (!s.raw_options.empty()) {
    hl = wire::write_tcp_header(bytes, f, wire::TcpOptions{}, wire::kDefaultLayout);
    std::copy(s.raw_options.begin(), s.raw_options.end(), bytes.begin() + static_cast<std::ptrdiff_t>(hl));
    hl += s.raw_options.size();
    bytes[12] = static_cast<std::uint8_t>((hl / 4) << 4);
  } else {
    hl = wire::write_tcp_header(bytes, f, o, wire::kDefaultLayout);
  }
  std::copy(s.data.begin(), s.data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(hl));
  bytes.resize(hl + s.data.size());
  wire::finish_tcp_checksum_v4(bytes, kRemoteAddr, kLocalAddr);
  return bytes;
}

void Harness::in(const In& s) {
  const auto bytes = build(s);
  wire::PseudoHeaderV4 ph{kRemoteAddr, kLocalAddr};
  auto seg = wire::parse_tcp(bytes, &ph);
  ASSERT_TRUE(seg.ok()) << "test built an invalid segment";
  conn_.on_segment(*seg, now_);
}

// --- what came back ------------------------------------------------------------------------

Sent Harness::out() {
  if (sent_.size() != 1) {
    std::string all;
    for (const auto& s : sent_) all += "\n  " + s.str();
    ADD_FAILURE() << "expected exactly one segment, got " << sent_.size() << all;
    if (sent_.empty()) return Sent{};
  }
  Sent s = sent_.front();
  sent_.pop_front();
  return s;
}

Sent Harness::expect(std::uint8_t flags, std::uint32_t rel_seq, std::uint32_t rel_ack,
                     std::uint32_t len) {
  if (sent_.empty()) {
    ADD_FAILURE() << "expected " << wire::flags_to_string(flags) << " seq " << rel_seq
                  << " ack " << rel_ack << ", nothing was sent";
    return Sent{};
  }
  Sent s = sent_.front();
  sent_.pop_front();
  EXPECT_EQ(wire::flags_to_string(s.flags), wire::flags_to_string(flags)) << s.str();
  EXPECT_EQ(s.rel_seq, rel_seq) << s.str();
  if (flags & ACK) {
    EXPECT_EQ(s.rel_ack, rel_ack) << s.str();
  }
  EXPECT_EQ(s.len(), len) << s.str();
  return s;
}

Sent Harness::next() {
  if (sent_.empty()) {
    ADD_FAILURE() << "expected a segment, nothing was sent";
    return Sent{};
  }
  Sent s = sent_.front();
  sent_.pop_front();
  return s;
}

void Harness::expect_none() {
  if (!sent_.empty()) {
    std::string all;
    for (const auto& s : sent_) all += "\n  " + s.str();
    ADD_FAILURE() << "expected nothing, got " << sent_.size() << " segment(s):" << all;
    sent_.clear();
  }
}

std::vector<Sent> Harness::drain() {
  std::vector<Sent> v(sent_.begin(), sent_.end());
  sent_.clear();
  return v;
}

// --- time ----------------------------------------------------------------------------------

void Harness::advance(Duration d) {
  const Instant until = now_ + d;
  while (conn_.next_deadline() <= until) {
    now_ = std::max(now_, conn_.next_deadline());
    conn_.on_timer(now_);
  }
  now_ = until;
}

Instant Harness::fire_next_timer() {
  const Instant t = conn_.next_deadline();
  if (t == kNever) return kNever;
  now_ = std::max(now_, t);
  conn_.on_timer(now_);
  return now_;
}

std::optional<Instant> Harness::wait_for_segment(Duration limit) {
  const Instant until = now_ + limit;
  while (sent_.empty()) {
    const Instant t = conn_.next_deadline();
    if (t == kNever || t > until) return std::nullopt;
    now_ = std::max(now_, t);
    conn_.on_timer(now_);
  }
  return now_;
}

// --- the application -----------------------------------------------------------------------

void Harness::send(std::string_view data) {
  auto r = conn_.send({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}, now_);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  ASSERT_EQ(*r, data.size());
}

std::string Harness::pattern(std::size_t offset, std::size_t n) {
  std::string s(n, ' ');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (offset + i) % 26);
  return s;
}

void Harness::send_bytes(std::size_t n) {
  const std::uint64_t offset = conn_.info().bytes_acked + conn_.info().send_queued;
  send(pattern(offset, n));
}

std::string Harness::receive(std::size_t max) {
  std::vector<std::uint8_t> buf(max);
  auto r = conn_.receive(buf, now_);
  if (!r) return {};
  return std::string(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*r));
}

bool Harness::has_event(EventKind k) const { return count_events(k) > 0; }

std::size_t Harness::count_events(EventKind k) const {
  return static_cast<std::size_t>(
      std::count_if(events_.begin(), events_.end(), [k](const Event& e) { return e.kind == k; }));
}

std::optional<Event> Harness::last_event(EventKind k) const {
  for (auto it = events_.rbegin(); it != events_.rend(); ++it)
    if (it->kind == k) return *it;
  return std::nullopt;
}

std::optional<Instant> Harness::entered(TcpState s) const {
  for (auto it = changes_.rbegin(); it != changes_.rend(); ++it)
    if (it->to == s) return it->at;
  return std::nullopt;
}

std::vector<TcpState> Harness::states_visited() const {
  std::vector<TcpState> v;
  if (!changes_.empty()) v.push_back(changes_.front().from);
  for (const auto& c : changes_) v.push_back(c.to);
  return v;
}

// --- reaching states -----------------------------------------------------------------------

void Harness::to_listen() {
  ASSERT_EQ(conn_.open_passive(), Error::none);
  ASSERT_EQ(state(), TcpState::listen);
}

void Harness::to_syn_sent() {
  ASSERT_EQ(conn_.open_active(now_), Error::none);
  ASSERT_EQ(state(), TcpState::syn_sent);
  expect(SYN, 0, 0);
}

void Harness::to_syn_received_passive() {
  to_listen();
  in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  ASSERT_EQ(state(), TcpState::syn_received);
  expect(SYN | ACK, 0, 1);
}

void Harness::to_syn_received_active() {
  to_syn_sent();
  in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  ASSERT_EQ(state(), TcpState::syn_received);
  expect(SYN | ACK, 0, 1);
}

void Harness::to_established_active() {
  to_syn_sent();
  in({.flags = SYN | ACK, .seq = 0, .ack = 1, .mss = 1460});
  ASSERT_EQ(state(), TcpState::established);
  expect(ACK, 1, 1);
  clear_events();
}

void Harness::to_established_passive() {
  to_syn_received_passive();
  in({.flags = ACK, .seq = 1, .ack = 1});
  ASSERT_EQ(state(), TcpState::established);
  expect_none();
  clear_events();
}

void Harness::to_fin_wait_1() {
  to_established_active();
  ASSERT_EQ(conn_.shutdown_write(now_), Error::none);
  ASSERT_EQ(state(), TcpState::fin_wait_1);
  expect(FIN | ACK, 1, 1);
}

void Harness::to_fin_wait_2() {
  to_fin_wait_1();
  in({.flags = ACK, .seq = 1, .ack = 2});
  ASSERT_EQ(state(), TcpState::fin_wait_2);
  expect_none();
}

void Harness::to_close_wait() {
  to_established_active();
  in({.flags = FIN | ACK, .seq = 1, .ack = 1});
  ASSERT_EQ(state(), TcpState::close_wait);
  expect(ACK, 1, 2);
}

void Harness::to_last_ack() {
  to_close_wait();
  ASSERT_EQ(conn_.shutdown_write(now_), Error::none);
  ASSERT_EQ(state(), TcpState::last_ack);
  expect(FIN | ACK, 1, 2);
}

void Harness::to_closing() {
  to_fin_wait_1();
  in({.flags = FIN | ACK, .seq = 1, .ack = 1});  // crosses our FIN: does not ACK it
  ASSERT_EQ(state(), TcpState::closing);
  expect(ACK, 2, 2);
}

void Harness::to_time_wait() {
  to_fin_wait_2();
  in({.flags = FIN | ACK, .seq = 1, .ack = 2});
  ASSERT_EQ(state(), TcpState::time_wait);
  expect(ACK, 2, 2);
}

}  // namespace synfin::test

// Per-connection congestion control (SocketOptions::congestion) and the loss-recovery and
// negotiated-option state in SocketInfo, observed from a raw peer that decides exactly which
// segments it acknowledges and SACKs.
#include "stack/raw_peer.hpp"

namespace synfin::test {
namespace {

const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kPeer = Ipv4Addr::of(10, 0, 0, 2);
constexpr std::uint16_t kPeerMss = 1460;

struct PeerOffer {
  bool sack = false;
  bool timestamps = false;
  std::optional<std::uint8_t> wscale;
};

// One connection between the stack under test and a scripted peer. Sequence numbers are
// relative: ours from the stack's ISN, the peer's from 1000.
class RawConn {
 public:
  RawConn(Stack& s, Instant& now) : s_(s), now_(now) {}

  // The stack connects (open(), the options, start()); the peer answers the SYN.
  void connect(const SocketOptions& o, const PeerOffer& offer) {
    auto h = s_.open(kPeer, 80);
    ASSERT_TRUE(h);
    h_ = *h;
    ASSERT_EQ(s_.set_options(h_, o, now_), Error::none);
    ASSERT_EQ(s_.start(h_, now_), Error::none);
    auto out = sent_by(s_, now_);
    ASSERT_EQ(out.size(), 1u);
    const wire::TcpSegment& syn = *out[0].tcp;
    our_port_ = syn.src_port;
    peer_port_ = 80;
    our_isn_ = syn.seq.raw();
    offer_ = offer;
    stack_ts_ = syn.options.ts_val;
    out = peer_sends(flag::SYN | flag::ACK, 0, 1, offer_options(true));
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(s_.info(h_)->state, TcpState::established);
  }

  // The peer connects to a listener on port 80 and the application accepts.
  void accept_from(Handle listener, std::uint16_t our_port, std::uint16_t peer_port, const PeerOffer& offer) {
    our_port_ = our_port;
    peer_port_ = peer_port;
    offer_ = offer;
    auto out = peer_sends(flag::SYN, 0, 0, offer_options(false), true);
    ASSERT_EQ(out.size(), 1u);
    our_isn_ = out[0].tcp->seq.raw();
    stack_ts_ = out[0].tcp->options.ts_val;
    out = peer_sends(flag::ACK, 1, 1, {});
    EXPECT_TRUE(out.empty());
    auto a = s_.accept(listener);
    ASSERT_TRUE(a);
    h_ = *a;
  }

  // The application sends `segments` full segments; the peer acknowledges the first flight
  // (slow start doubles it). Returns the stack's segments in flight afterwards.
  std::vector<Captured> grow_window(std::uint32_t segments) {
    const std::string data(segments * mss(), 'x');
    auto n = s_.send(h_, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}, now_);
    EXPECT_TRUE(n);
    auto flight = data_of(note(sent_by(s_, now_)));
    EXPECT_EQ(flight.size(), 10u) << "the initial window";
    now_ += 10ms;
    std::vector<Captured> next;
    for (const Captured& c : flight) {
      for (Captured& d : data_of(ack(rel_end(c)))) next.push_back(std::move(d));
    }
    return next;
  }

  // A duplicate ACK of SND.UNA, with SACK blocks (relative, [left, right)) when negotiated.
  std::vector<Captured> dupack(std::uint32_t una, std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks = {}) {
    wire::TcpOptions o;
    for (auto [l, r] : blocks) o.sack[o.sack_count++] = wire::SackBlock{wire::Seq{our_isn_ + l}, wire::Seq{our_isn_ + r}};
    return peer_sends(flag::ACK, 1, una, o);
  }
  std::vector<Captured> ack(std::uint32_t rel) { return peer_sends(flag::ACK, 1, rel, {}); }

  std::uint32_t rel_end(const Captured& c) const {
    return c.tcp->seq.raw() - our_isn_ + static_cast<std::uint32_t>(c.payload.size());
  }
  std::uint32_t rel_seq(const Captured& c) const { return c.tcp->seq.raw() - our_isn_; }
  // The end of the highest data the stack has sent (relative).
  std::uint32_t highest() const { return highest_; }
  std::uint32_t mss() const { return kPeerMss - (offer_.timestamps ? 12u : 0u); }
  SocketInfo info() const { return *s_.info(h_); }
  Handle handle() const { return h_; }

 private:
  static std::vector<Captured> data_of(std::vector<Captured> v) {
    std::vector<Captured> d;
    for (Captured& c : v)
      if (c.tcp && !c.payload.empty()) d.push_back(std::move(c));
    return d;
  }

  wire::TcpOptions offer_options(bool syn_ack) {
    wire::TcpOptions o;
    o.has_mss = true;
    o.mss = kPeerMss;
    o.sack_permitted = offer_.sack;
    if (offer_.wscale) {
      o.has_wscale = true;
      o.wscale = *offer_.wscale;
    }
    if (offer_.timestamps) {
      o.has_timestamps = true;
      o.ts_val = ++peer_ts_;
      o.ts_ecr = syn_ack ? stack_ts_ : 0;
    }
    return o;
  }

  std::vector<Captured> peer_sends(std::uint8_t flags, std::uint32_t rel_seq, std::uint32_t rel_ack,
                                   wire::TcpOptions o, bool no_ack = false) {
    if (offer_.timestamps && !o.has_timestamps) {
      o.has_timestamps = true;
      o.ts_val = ++peer_ts_;
      o.ts_ecr = stack_ts_;
    }
    const wire::TcpHeaderFields f{peer_port_, our_port_, wire::Seq{1000 + rel_seq},
                                  wire::Seq{no_ack ? 0 : our_isn_ + rel_ack}, flags, 65535, 0};
    std::vector<std::uint8_t> p(20 + wire::kTcpMaxHeader);
    const std::size_t hl = wire::write_tcp_header(std::span(p).subspan(20), f, o, wire::kDefaultLayout);
    p.resize(20 + hl);
    wire::finish_tcp_checksum_v4(std::span(p).subspan(20), kPeer.value, kUs.value);
    wire::Ipv4Header ip;
    ip.src = kPeer;
    ip.dst = kUs;
    ip.total_length = static_cast<std::uint16_t>(p.size());
    wire::write_ipv4_header(p, ip);
    s_.receive(p, now_);
    return note(sent_by(s_, now_));
  }

  std::vector<Captured> note(std::vector<Captured> out) {
    for (const Captured& c : out) {
      if (!c.tcp) continue;
      if (c.tcp->options.has_timestamps) stack_ts_ = c.tcp->options.ts_val;
      if (!c.payload.empty() && static_cast<std::int32_t>(rel_end(c) - highest_) > 0) highest_ = rel_end(c);
    }
    return out;
  }

  Stack& s_;
  Instant& now_;
  Handle h_{};
  PeerOffer offer_;
  std::uint16_t our_port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::uint32_t our_isn_ = 0;
  std::uint32_t peer_ts_ = 100;
  std::uint32_t stack_ts_ = 0;
  std::uint32_t highest_ = 0;
};

StackConfig config(CongestionAlgorithm cc) {
  StackConfig c = test_config("cc");
  c.tcp.congestion = cc;
  return c;
}

struct LossOutcome {
  std::uint32_t cwnd_before = 0;
  std::uint32_t flight_at_loss = 0;  // bytes outstanding when the third duplicate arrived
  SocketInfo after;                  // right after the third duplicate ACK
};

// The window grows to 20 segments, then the first of them is lost: three duplicate ACKs.
LossOutcome lose_one(RawConn& c) {
  LossOutcome r;
  auto flight = c.grow_window(40);
  EXPECT_EQ(flight.size(), 20u);
  if (flight.empty()) return r;
  r.cwnd_before = c.info().cwnd;
  const std::uint32_t una = c.rel_seq(flight.front());
  for (int i = 0; i < 2; ++i) c.dupack(una);
  r.flight_at_loss = c.info().unacked;  // limited transmit sent new data on the first two
  auto out = c.dupack(una);
  EXPECT_EQ(out.size(), 1u);
  if (!out.empty()) {
    EXPECT_EQ(c.rel_seq(out[0]), una) << "fast retransmit of the lost segment";
  }
  r.after = c.info();
  return r;
}

// Two connections of one stack, one left at the stack's CUBIC, one set to NewReno before it
// connects: the same loss takes CUBIC's window to 70 % (RFC 9438 beta) and NewReno's to half
// the flight (RFC 5681 equation (4)).
TEST(CongestionOption, TwoConnectionsOfOneStackReactToLossByTheirOwnAlgorithm) {
  Stack s(config(CongestionAlgorithm::cubic));
  s.add_interface({kUs, 24, 1500});
  Instant now = at(10s);
  RawConn cubic(s, now), reno(s, now);
  cubic.connect({}, {});
  SocketOptions o;
  o.congestion = CongestionAlgorithm::newreno;
  reno.connect(o, {});
  EXPECT_EQ(cubic.info().congestion, CongestionAlgorithm::cubic);
  EXPECT_EQ(reno.info().congestion, CongestionAlgorithm::newreno);

  const LossOutcome c = lose_one(cubic);
  const LossOutcome r = lose_one(reno);
  ASSERT_EQ(c.cwnd_before, 20u * kPeerMss);
  ASSERT_EQ(r.cwnd_before, 20u * kPeerMss);
  EXPECT_TRUE(c.after.in_recovery);
  EXPECT_TRUE(r.after.in_recovery);
  EXPECT_EQ(c.after.ssthresh, static_cast<std::uint32_t>(c.cwnd_before * 0.7));
  EXPECT_EQ(r.after.ssthresh, r.flight_at_loss / 2);
  EXPECT_LT(r.after.ssthresh, c.after.ssthresh);
  // No SACK from this peer: RFC 6582 recovery, cwnd = ssthresh + 3 segments.
  EXPECT_EQ(c.after.recovery, RecoveryKind::newreno);
  EXPECT_EQ(c.after.cwnd, c.after.ssthresh + 3 * kPeerMss);
  EXPECT_EQ(r.after.cwnd, r.after.ssthresh + 3 * kPeerMss);
}

// On an established connection the option takes over at once, from the current window.
TEST(CongestionOption, ChangesAnEstablishedConnection) {
  Stack s(config(CongestionAlgorithm::newreno));
  s.add_interface({kUs, 24, 1500});
  Instant now = at(10s);
  RawConn c(s, now);
  c.connect({}, {});
  ASSERT_EQ(c.info().congestion, CongestionAlgorithm::newreno);
  SocketOptions o;
  o.congestion = CongestionAlgorithm::cubic;
  ASSERT_EQ(s.set_options(c.handle(), o, now), Error::none);
  EXPECT_EQ(c.info().congestion, CongestionAlgorithm::cubic);
  const LossOutcome r = lose_one(c);
  EXPECT_EQ(r.after.ssthresh, static_cast<std::uint32_t>(r.cwnd_before * 0.7)) << "CUBIC's reduction, not NewReno's";
}

// Set on a listener, the option applies to the connections it accepts; another listener of
// the same stack keeps the stack's algorithm.
TEST(CongestionOption, ListenerPassesItToAcceptedConnections) {
  Stack s(config(CongestionAlgorithm::cubic));
  s.add_interface({kUs, 24, 1500});
  Instant now = at(10s);
  auto reno_listener = s.listen(Ipv4Addr{}, 80, 4);
  ASSERT_TRUE(reno_listener);
  SocketOptions o;
  o.congestion = CongestionAlgorithm::newreno;
  ASSERT_EQ(s.set_options(*reno_listener, o, now), Error::none);
  EXPECT_EQ(s.info(*reno_listener)->congestion, CongestionAlgorithm::newreno);
  RawConn reno(s, now), other(s, now);
  reno.accept_from(*reno_listener, 80, 5555, {});
  EXPECT_EQ(reno.info().congestion, CongestionAlgorithm::newreno);
  const LossOutcome r = lose_one(reno);
  EXPECT_EQ(r.after.ssthresh, r.flight_at_loss / 2);

  auto plain_listener = s.listen(Ipv4Addr{}, 81, 4);
  ASSERT_TRUE(plain_listener);
  other.accept_from(*plain_listener, 81, 5556, {});
  EXPECT_EQ(other.info().congestion, CongestionAlgorithm::cubic);
  const LossOutcome c = lose_one(other);
  EXPECT_EQ(c.after.ssthresh, static_cast<std::uint32_t>(c.cwnd_before * 0.7));
}

// --- SocketInfo: negotiated options, the SACK scoreboard, the recovery in progress ---------

TEST(SocketInfoSack, ShowsNegotiatedOptionsScoreboardAndSackRecovery) {
  Stack s(config(CongestionAlgorithm::newreno));
  s.add_interface({kUs, 24, 1500});
  Instant now = at(10s);
  RawConn c(s, now);
  c.connect({}, {.sack = true, .timestamps = true, .wscale = 5});
  SocketInfo i = c.info();
  EXPECT_TRUE(i.sack);
  EXPECT_TRUE(i.timestamps);
  EXPECT_TRUE(i.window_scaling);
  EXPECT_EQ(i.snd_wscale, 5);
  EXPECT_EQ(i.rcv_wscale, 7) << "4 MB max_recv_buffer needs shift 7";
  EXPECT_EQ(i.recovery, RecoveryKind::none);
  EXPECT_EQ(i.sacked_bytes, 0u);

  auto flight = c.grow_window(40);
  ASSERT_EQ(flight.size(), 20u);
  // REC-1: the peer's 65535 scaled by 5, a window a 16-bit field could not hold.
  EXPECT_EQ(c.info().snd_wnd, 65535u << 5);
  const std::uint32_t m = c.mss();
  const std::uint32_t una = c.rel_seq(flight.front());
  // Segments 0 and 3 of the flight are lost: the peer SACKs 1-2, then 4 and 5.
  c.dupack(una, {{una + m, una + 2 * m}});
  i = c.info();
  EXPECT_EQ(i.sacked_bytes, m);
  EXPECT_EQ(i.sack_blocks, 1u);
  EXPECT_EQ(i.recovery, RecoveryKind::none);
  c.dupack(una, {{una + m, una + 3 * m}});
  c.dupack(una, {{una + 4 * m, una + 6 * m}, {una + m, una + 3 * m}});
  i = c.info();
  EXPECT_EQ(i.sacked_bytes, 4 * m);
  EXPECT_EQ(i.sack_blocks, 2u);
  EXPECT_TRUE(i.in_recovery);
  EXPECT_EQ(i.recovery, RecoveryKind::sack);
  EXPECT_EQ(i.fast_retransmits, 1u);
  EXPECT_EQ(i.sack_recoveries, 1u);
  // A D-SACK (a block below the cumulative ACK) is counted, not added to the scoreboard.
  c.dupack(una, {{una - m, una}, {una + m, una + 3 * m}});
  EXPECT_EQ(c.info().dsacks_received, 1u);
  EXPECT_EQ(c.info().sacked_bytes, 4 * m);
  // Everything sent is acknowledged: the recovery and the scoreboard are over.
  c.ack(c.highest());
  i = c.info();
  EXPECT_EQ(i.recovery, RecoveryKind::none);
  EXPECT_FALSE(i.in_recovery);
  EXPECT_EQ(i.sacked_bytes, 0u);
  EXPECT_EQ(i.sack_blocks, 0u);
}

TEST(SocketInfoSack, PeerWithoutOptionsGetsNewRenoRecovery) {
  Stack s(config(CongestionAlgorithm::cubic));
  s.add_interface({kUs, 24, 1500});
  Instant now = at(10s);
  RawConn c(s, now);
  c.connect({}, {});
  SocketInfo i = c.info();
  EXPECT_FALSE(i.sack);
  EXPECT_FALSE(i.timestamps);
  EXPECT_FALSE(i.window_scaling);
  EXPECT_EQ(i.snd_wscale, 0);
  EXPECT_EQ(i.rcv_wscale, 0);
  const LossOutcome r = lose_one(c);
  EXPECT_EQ(r.after.recovery, RecoveryKind::newreno);
  EXPECT_EQ(r.after.sack_recoveries, 0u);
  EXPECT_EQ(r.after.fast_retransmits, 1u);
  EXPECT_EQ(to_string(r.after.recovery), "newreno");
}

}  // namespace
}  // namespace synfin::test

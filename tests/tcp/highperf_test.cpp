// Scripted tests of the high-performance options: window scaling and timestamps with PAWS
// (RFC 7323), SACK and D-SACK (RFC 2018, RFC 2883), SACK-based recovery (RFC 6675), limited
// transmit (RFC 3042), CUBIC (RFC 9438).
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

constexpr std::uint16_t kMss = 1460;

TcpConfig with_options(bool ws, bool ts, bool sack) {
  TcpConfig c = Harness::default_config();
  c.window_scaling = ws;
  c.timestamps = ts;
  c.sack = sack;
  c.max_recv_buffer = 4u << 20;
  return c;
}

wire::TcpOptions opts(std::optional<std::uint8_t> wscale = {}, std::optional<std::pair<std::uint32_t, std::uint32_t>> ts = {},
                      bool sack_ok = false, std::uint16_t mss = 0) {
  wire::TcpOptions o;
  if (mss) {
    o.has_mss = true;
    o.mss = mss;
  }
  if (wscale) {
    o.has_wscale = true;
    o.wscale = *wscale;
  }
  if (ts) {
    o.has_timestamps = true;
    o.ts_val = ts->first;
    o.ts_ecr = ts->second;
  }
  o.sack_permitted = sack_ok;
  return o;
}

// --- window scaling (RFC 7323 section 2) ---------------------------------------------------

TEST(WindowScale, ShiftComesFromTheLargestReceiveBuffer) {
  for (auto [buffer, shift] : {std::pair{4u << 20, 7}, {2u << 20, 6}, {73728u, 1}, {65535u, 0}}) {
    TcpConfig c = with_options(true, false, false);
    c.max_recv_buffer = buffer;
    c.recv_buffer = 16384;
    Harness h(c);
    h.to_syn_sent();
    ASSERT_EQ(h.drain().size(), 0u);
    // to_syn_sent consumed the SYN: open again on a fresh harness to look at it.
    Harness g(c);
    ASSERT_EQ(g.conn().open_active(g.now()), Error::none);
    Sent syn = g.out();
    EXPECT_TRUE(syn.options.has_wscale) << buffer;
    EXPECT_EQ(syn.options.wscale, shift) << buffer;
    EXPECT_EQ(syn.window, 16384) << "the window of a SYN is never scaled";
  }
}

TEST(WindowScale, AppliedInBothDirectionsOnlyAfterTheHandshake) {
  Harness h(with_options(true, false, false));
  ASSERT_EQ(h.conn().open_active(h.now()), Error::none);
  Sent syn = h.out();
  ASSERT_EQ(syn.options.wscale, 7);
  // The peer offers shift 3; its SYN-ACK window (1000) is not scaled.
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 1000, .options = opts(3, {}, false, 1460)});
  EXPECT_EQ(h.conn().snd_wnd(), 1000u);
  Sent ack = h.expect(ACK, 1, 1);
  // Our 65535-byte buffer announced with shift 7: 65535 >> 7 rounded to keep the edge.
  EXPECT_EQ(ack.window, 512);
  EXPECT_EQ(h.conn().rcv_wnd(), 512u << 7);
  // From now on the peer's windows are scaled by 3.
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 100});
  EXPECT_EQ(h.conn().snd_wnd(), 800u);
  h.send(std::string(2000, 'x'));
  std::uint32_t sent = 0;
  for (const Sent& s : h.drain()) sent += s.len();
  EXPECT_EQ(sent, 800u) << "the scaled window bounds what is sent";
}

TEST(WindowScale, NotUsedWhenThePeerDoesNotOfferIt) {
  Harness h(with_options(true, false, false));
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 1000, .mss = 1460});
  Sent ack = h.expect(ACK, 1, 1);
  EXPECT_EQ(ack.window, 65535);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 100});
  EXPECT_EQ(h.conn().snd_wnd(), 100u);
  EXPECT_FALSE(h.conn().info().window_scaling);
}

TEST(WindowScale, PassiveOpenAnswersOnlyWhatWasOffered) {
  Harness a(with_options(true, false, false));
  a.to_listen();
  a.in({.flags = SYN, .seq = 0, .ack = 0, .options = opts({}, {}, false, 1460)});
  EXPECT_FALSE(a.out().options.has_wscale);
  Harness b(with_options(true, false, false));
  b.to_listen();
  b.in({.flags = SYN, .seq = 0, .ack = 0, .options = opts(2, {}, false, 1460)});
  Sent sa = b.out();
  EXPECT_TRUE(sa.options.has_wscale);
  EXPECT_EQ(sa.options.wscale, 7);
}

TEST(WindowScale, ShiftAboveFourteenIsTakenAsFourteen) {
  Harness h(with_options(true, false, false));
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 1000, .options = opts(20, {}, false, 1460)});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.conn().info().snd_wscale, 14);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 1});
  EXPECT_EQ(h.conn().snd_wnd(), 1u << 14);
}

// --- timestamps and PAWS (RFC 7323 sections 3 to 5) -----------------------------------------

class Timestamps : public ::testing::Test {
 protected:
  Timestamps() : h(with_options(false, true, false)) {
    EXPECT_EQ(h.conn().open_active(h.now()), Error::none);
    syn = h.out();
    h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .options = opts({}, std::pair{500u, syn.options.ts_val}, false, 1460)});
    first_ack = h.expect(ACK, 1, 1);
  }
  Harness h;
  Sent syn;
  Sent first_ack;
};

TEST_F(Timestamps, SynOffersThemAndEverySegmentCarriesThem) {
  EXPECT_TRUE(syn.options.has_timestamps);
  EXPECT_EQ(syn.options.ts_ecr, 0u) << "TSecr is zero when the ACK bit is off";
  EXPECT_TRUE(first_ack.options.has_timestamps);
  EXPECT_EQ(first_ack.options.ts_ecr, 500u);
  EXPECT_TRUE(h.conn().info().timestamps);
}

TEST_F(Timestamps, TsRecentFollowsTheRulesOfSection4_3) {
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "abc", .options = opts({}, std::pair{600u, 0u})});
  EXPECT_EQ(h.out().options.ts_ecr, 600u);
  // A segment beyond what we acknowledged (out of order) does not update TS.Recent.
  h.in({.flags = ACK, .seq = 100, .ack = 1, .data = "zz", .options = opts({}, std::pair{700u, 0u})});
  EXPECT_EQ(h.out().options.ts_ecr, 600u);
}

TEST_F(Timestamps, PawsDropsAnOldSegmentAndAcknowledges) {
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "abc", .options = opts({}, std::pair{600u, 0u})});
  h.out();
  // In the window, but its timestamp is older than TS.Recent: an old duplicate.
  h.in({.flags = ACK | PSH, .seq = 4, .ack = 1, .data = "OLD", .options = opts({}, std::pair{550u, 0u})});
  Sent ack = h.out();
  EXPECT_EQ(ack.rel_ack, 4u) << "not accepted";
  EXPECT_EQ(h.drops(DropReason::tcp_paws), 1u);
  EXPECT_EQ(h.receive(), "abc");
}

TEST_F(Timestamps, SegmentWithoutTimestampIsDropped) {
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "abc"});
  h.expect_none();
  EXPECT_EQ(h.receive(), "");
  EXPECT_EQ(h.drops(DropReason::tcp_no_timestamp), 1u);
}

TEST_F(Timestamps, Must16PayloadLeavesRoomForTheOption) {
  h.send(std::string(5000, 'x'));
  for (const Sent& s : h.drain()) EXPECT_LE(s.len(), kMss - 12u);
}

TEST_F(Timestamps, RttIsMeasuredFromTheEchoedValueEvenForARetransmission) {
  // The handshake took no time: SRTT 0. A retransmitted segment gives no sample by Karn's
  // rule, but its echoed TSval says which transmission the ACK answers (section 4).
  ASSERT_EQ(h.conn().info().srtt, Duration::zero());
  h.send("ping");
  h.out();
  ASSERT_TRUE(h.wait_for_segment());
  Sent again = h.out();
  ASSERT_TRUE(again.retransmission);
  h.advance(80ms);
  h.in({.flags = ACK, .seq = 1, .ack = 5, .options = opts({}, std::pair{620u, again.options.ts_val})});
  EXPECT_EQ(h.conn().info().srtt, 10ms) << "SRTT = 7/8 * 0 + 1/8 * 80 ms";
}

// --- SACK (RFC 2018, RFC 2883) --------------------------------------------------------------

class Sack : public ::testing::Test {
 protected:
  explicit Sack(bool ts = false) : h(with_options(false, ts, true)) {
    EXPECT_EQ(h.conn().open_active(h.now()), Error::none);
    syn = h.out();
    wire::TcpOptions o = opts({}, {}, true, kMss);
    h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .options = o});
    h.expect(ACK, 1, 1);
  }
  In data(std::uint32_t seq, std::size_t n) {
    return In{.flags = ACK, .seq = seq, .ack = 1, .data = std::string(n, 'd')};
  }
  Harness h;
  Sent syn;
};

TEST_F(Sack, SynOffersSackPermitted) { EXPECT_TRUE(syn.options.sack_permitted); }

TEST_F(Sack, BlocksAreReportedMostRecentFirst) {
  h.in(data(101, 100));  // [101, 201) out of order
  Sent a = h.out();
  ASSERT_EQ(a.options.sack_count, 1);
  EXPECT_EQ(a.options.sack[0], (wire::SackBlock{h.peer_iss() + 101, h.peer_iss() + 201}));
  h.in(data(301, 100));
  h.in(data(501, 100));
  h.drain();
  h.in(data(201, 50));  // extends the first block: it becomes the newest
  Sent d = h.out();
  ASSERT_EQ(d.options.sack_count, 3);
  EXPECT_EQ(d.options.sack[0], (wire::SackBlock{h.peer_iss() + 101, h.peer_iss() + 251}));
  EXPECT_EQ(d.options.sack[1], (wire::SackBlock{h.peer_iss() + 501, h.peer_iss() + 601}));
  EXPECT_EQ(d.options.sack[2], (wire::SackBlock{h.peer_iss() + 301, h.peer_iss() + 401}));
  // The hole is filled: one cumulative ACK, and only the blocks still above it.
  h.in(data(1, 100));
  Sent e = h.out();
  EXPECT_EQ(e.rel_ack, 251u);
  ASSERT_EQ(e.options.sack_count, 2);
  EXPECT_EQ(e.options.sack[0], (wire::SackBlock{h.peer_iss() + 501, h.peer_iss() + 601}));
}

TEST_F(Sack, DuplicateIsReportedAsDsack) {
  h.in(data(1, 100));
  h.out();
  h.in(data(1, 100));  // the same again
  Sent a = h.out();
  EXPECT_EQ(a.rel_ack, 101u);
  ASSERT_GE(a.options.sack_count, 1);
  EXPECT_EQ(a.options.sack[0], (wire::SackBlock{h.peer_iss() + 1, h.peer_iss() + 101}));
  // Reported once.
  h.in(data(101, 10));
  EXPECT_EQ(h.out().options.sack_count, 0);
}

TEST(SackLimits, AtMostThreeBlocksBesideTimestamps) {
  Harness h(with_options(false, true, true));
  ASSERT_EQ(h.conn().open_active(h.now()), Error::none);
  Sent syn = h.out();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .options = opts({}, std::pair{10u, syn.options.ts_val}, true, kMss)});
  h.out();
  for (std::uint32_t i = 0; i < 5; ++i) {
    h.in({.flags = ACK, .seq = 101 + 200 * i, .ack = 1, .data = std::string(100, 'd'),
          .options = opts({}, std::pair{11u + i, 0u})});
  }
  Sent last = h.drain().back();
  EXPECT_EQ(last.options.sack_count, 3);
  EXPECT_TRUE(last.options.has_timestamps);
}

TEST(SackNegotiation, NoBlocksWithoutSackPermitted) {
  Harness h(with_options(false, false, true));
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .mss = kMss});
  h.out();
  h.in({.flags = ACK, .seq = 101, .ack = 1, .data = "x"});
  EXPECT_EQ(h.out().options.sack_count, 0);
  EXPECT_FALSE(h.conn().info().sack);
}

// --- RFC 6675 recovery and RFC 3042 limited transmit ----------------------------------------

TEST_F(Sack, Rfc6675RecoveryRetransmitsExactlyTheHoles) {
  h.send_bytes(10 * kMss);
  ASSERT_EQ(h.drain().size(), 10u);  // IW 10
  const Seq base = h.iss() + 1;
  auto seg = [&](std::uint32_t i) { return base + i * kMss; };
  // Segments 0, 3 and 6 are lost; the peer SACKs the rest as it arrives.
  auto dup = [&](std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> b) {
    wire::TcpOptions o;
    for (auto [l, r] : b) o.sack[o.sack_count++] = wire::SackBlock{seg(l), seg(r)};
    h.in({.flags = ACK, .seq = 1, .ack = 1, .options = o});
  };
  dup({{1, 2}});
  dup({{1, 3}});
  std::vector<Sent> out = h.drain();  // limited transmit may send new data; none here (all sent)
  for (const Sent& s : out) EXPECT_FALSE(s.retransmission) << s.str();
  dup({{4, 5}, {1, 3}});  // three SACKed segments above segment 0: it is lost (IsLost)
  out = h.drain();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].seq, seg(0));
  EXPECT_TRUE(out[0].retransmission);
  dup({{4, 6}, {1, 3}});
  dup({{7, 8}, {4, 6}, {1, 3}});
  dup({{7, 10}, {4, 6}, {1, 3}});
  out = h.drain();
  std::vector<std::uint32_t> resent;
  for (const Sent& s : out)
    if (s.retransmission) resent.push_back(s.seq.since(base) / kMss);
  // Holes 3 and 6 are resent, each once, and nothing that was SACKed.
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{3, 6}));
  EXPECT_TRUE(h.conn().info().sack_recovery);
  EXPECT_EQ(h.conn().info().fast_retransmits, 1u);
  // The cumulative ACK covering the recovery point ends the recovery.
  h.in({.flags = ACK, .seq = 1, .ack = 1 + 10 * kMss});
  EXPECT_FALSE(h.conn().info().in_recovery);
}

TEST_F(Sack, Rfc3042LimitedTransmitSendsNewDataOnTheFirstTwoDuplicates) {
  h.send_bytes(14 * kMss);
  ASSERT_EQ(h.drain().size(), 10u);
  const Seq base = h.iss() + 1;
  wire::TcpOptions o;
  o.sack[o.sack_count++] = wire::SackBlock{base + kMss, base + 2 * kMss};
  h.in({.flags = ACK, .seq = 1, .ack = 1, .options = o});
  std::vector<Sent> out = h.drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, base + 10 * kMss) << "new data, not a retransmission";
  o.sack[0].right = base + 3 * kMss;
  h.in({.flags = ACK, .seq = 1, .ack = 1, .options = o});
  out = h.drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, base + 11 * kMss);
}

// --- CUBIC (RFC 9438) -------------------------------------------------------------------------

TEST(Cubic, LossReducesTheWindowToSeventyPercent) {
  TcpConfig c = Harness::default_config();
  c.congestion = CongestionAlgorithm::cubic;
  Harness h(c);
  h.to_established_active();
  h.send_bytes(40 * kMss);
  // Grow the window a little with ACKs of the first flight.
  for (const Sent& s : h.drain()) h.in({.flags = ACK, .seq = 1, .ack = s.rel_seq + s.len()});
  h.drain();
  const std::uint32_t before = h.conn().info().cwnd;
  ASSERT_GT(before, 10u * kMss);
  for (int i = 0; i < 3; ++i) h.in({.flags = ACK, .seq = 1, .ack = h.conn().snd_una().since(h.iss())});
  const auto info = h.conn().info();
  EXPECT_TRUE(info.in_recovery);
  EXPECT_EQ(info.ssthresh, static_cast<std::uint32_t>(before * 0.7));
  EXPECT_EQ(info.congestion, CongestionAlgorithm::cubic);
}

TEST(Cubic, NewRenoHalvesInstead) {
  Harness h;  // default test config: NewReno
  h.to_established_active();
  h.send_bytes(40 * kMss);
  for (const Sent& s : h.drain()) h.in({.flags = ACK, .seq = 1, .ack = s.rel_seq + s.len()});
  h.drain();
  const std::uint32_t una = h.conn().snd_una().since(h.iss());
  h.in({.flags = ACK, .seq = 1, .ack = una});
  h.in({.flags = ACK, .seq = 1, .ack = una});
  // Limited transmit sent a segment on each of the two duplicates: the flight is now this.
  const auto flight = h.conn().info().unacked;
  h.in({.flags = ACK, .seq = 1, .ack = una});
  EXPECT_EQ(h.conn().info().ssthresh, std::max(flight / 2, 2u * kMss));
}

}  // namespace
}  // namespace synfin::test

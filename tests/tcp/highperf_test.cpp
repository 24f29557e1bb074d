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

// RFC 7323 section 5.5: TS.Recent is valid for 24 days. A connection idle for longer accepts a
// segment whose TSval is older (the peer's clock may have moved on by more than 2^31), and
// TS.Recent restarts from it; within 24 days PAWS drops the same segment.
TEST_F(Timestamps, PawsForgetsATsRecentIdleForMoreThan24Days) {
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "abc", .options = opts({}, std::pair{600u, 0u})});
  ASSERT_EQ(h.out().options.ts_ecr, 600u);
  ASSERT_EQ(h.receive(), "abc");
  h.advance(24 * 24h);  // exactly 24 days idle: TS.Recent still holds
  h.in({.flags = ACK | PSH, .seq = 4, .ack = 1, .data = "new", .options = opts({}, std::pair{560u, 0u})});
  Sent dropped = h.out();
  EXPECT_EQ(dropped.rel_ack, 4u) << "dropped by PAWS";
  EXPECT_EQ(dropped.options.ts_ecr, 600u);
  EXPECT_EQ(h.drops(DropReason::tcp_paws), 1u);
  EXPECT_EQ(h.conn().info().paws_drops, 1u);
  EXPECT_EQ(h.receive(), "");
  h.advance(1s);  // now more than 24 days: the old TS.Recent is invalid
  h.in({.flags = ACK | PSH, .seq = 4, .ack = 1, .data = "new", .options = opts({}, std::pair{560u, 0u})});
  Sent accepted = h.out();
  EXPECT_EQ(accepted.rel_ack, 7u) << "accepted despite TSval 560 < TS.Recent 600";
  EXPECT_EQ(accepted.options.ts_ecr, 560u) << "TS.Recent restarts from the accepted segment";
  EXPECT_EQ(h.receive(), "new");
  EXPECT_EQ(h.drops(DropReason::tcp_paws), 1u);
  // PAWS goes on against the new TS.Recent: 570 is newer and accepted, 565 then is old.
  h.in({.flags = ACK | PSH, .seq = 7, .ack = 1, .data = "xy", .options = opts({}, std::pair{570u, 0u})});
  EXPECT_EQ(h.out().options.ts_ecr, 570u);
  h.in({.flags = ACK | PSH, .seq = 9, .ack = 1, .data = "zz", .options = opts({}, std::pair{565u, 0u})});
  EXPECT_EQ(h.out().rel_ack, 9u);
  EXPECT_EQ(h.drops(DropReason::tcp_paws), 2u);
  EXPECT_EQ(h.receive(), "xy");
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

TEST_F(Sack, Rfc2883ADuplicateInsideAnOlderBlockIsFollowedByThatBlock) {
  // Two blocks held beyond a hole at 1: 201-300, then 401-500 (the newest, first).
  h.in(data(201, 100));
  h.out();
  h.in(data(401, 100));
  Sent b = h.out();
  ASSERT_EQ(b.options.sack_count, 2);
  EXPECT_EQ(b.options.sack[0], (wire::SackBlock{h.peer_iss() + 401, h.peer_iss() + 501}));
  // Part of the older block again: the D-SACK, then the block it sits in, then the other.
  h.in(data(221, 50));
  Sent a = h.out();
  EXPECT_EQ(a.rel_ack, 1u);
  ASSERT_EQ(a.options.sack_count, 3);
  EXPECT_EQ(a.options.sack[0], (wire::SackBlock{h.peer_iss() + 221, h.peer_iss() + 271}));
  EXPECT_EQ(a.options.sack[1], (wire::SackBlock{h.peer_iss() + 201, h.peer_iss() + 301}));
  EXPECT_EQ(a.options.sack[2], (wire::SackBlock{h.peer_iss() + 401, h.peer_iss() + 501}));
}

TEST(SackDelayedAck, RepeatedDataWithNewDataAfterItIsAcknowledgedAtOnceWithItsDsack) {
  TcpConfig cfg = with_options(false, false, true);
  cfg.delayed_ack = 40ms;
  Harness h(cfg);
  ASSERT_EQ(h.conn().open_active(h.now()), Error::none);
  h.out();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .options = opts({}, {}, true, kMss)});
  h.expect(ACK, 1, 1);
  auto data = [](std::uint32_t seq, std::size_t n) {
    return In{.flags = ACK, .seq = seq, .ack = 1, .data = std::string(n, 'd')};
  };
  // In-order data alone waits for the delayed ACK...
  h.in(data(1, 100));
  h.expect_none();
  ASSERT_TRUE(h.wait_for_segment(1s));
  h.expect(ACK, 1, 101);
  // ... but 51-150 (51-100 again, 101-150 new) has a D-SACK to report: at once.
  h.in(data(51, 100));
  Sent a = h.out();
  EXPECT_EQ(a.rel_ack, 151u);
  ASSERT_GE(a.options.sack_count, 1);
  EXPECT_EQ(a.options.sack[0], (wire::SackBlock{h.peer_iss() + 51, h.peer_iss() + 101}));
  h.expect_none();
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

// --- RFC 6675 rescue retransmission (section 4, NextSeg rule 4) --------------------------------

// A flight of `n` segments starting at `first` loses its first and its last segment; the peer
// SACKs segments 1 to n-2 one by one as they arrive. Returns everything the connection sent
// meanwhile. No data is waiting to be sent, so once the first hole is resent NextSeg has no
// hole and no new data: the last segment can only go out as the rescue retransmission.
std::vector<Sent> tail_loss_episode(Harness& h, Seq first, std::uint32_t n) {
  std::vector<Sent> sent;
  for (std::uint32_t k = 2; k <= n - 1; ++k) {
    wire::TcpOptions o;
    o.sack[o.sack_count++] = wire::SackBlock{first + kMss, first + k * kMss};
    h.in({.flags = ACK, .seq = 1, .ack = first.since(h.iss()), .options = o});
    for (Sent& s : h.drain()) sent.push_back(std::move(s));
  }
  return sent;
}

TEST(SackRescue, TheLastSegmentIsResentOncePerRecovery) {
  TcpConfig c = with_options(false, false, true);
  c.initial_window_segments = 20;
  Harness h(c);
  ASSERT_EQ(h.conn().open_active(h.now()), Error::none);
  h.out();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .options = opts({}, {}, true, kMss)});
  h.expect(ACK, 1, 1);
  ASSERT_TRUE(h.conn().info().sack);

  // First recovery: a flight of 20, segments 0 and 19 lost.
  h.send_bytes(20 * kMss);
  ASSERT_EQ(h.drain().size(), 20u);
  const Seq base = h.iss() + 1;
  std::vector<Sent> out = tail_loss_episode(h, base, 20);
  ASSERT_TRUE(h.conn().info().sack_recovery);
  std::vector<std::uint32_t> resent;
  for (const Sent& s : out) {
    EXPECT_TRUE(s.retransmission) << "no new data is queued: " << s.str();
    resent.push_back(s.seq.since(base) / kMss);
    EXPECT_EQ(s.len(), kMss) << s.str();
  }
  // Segment 0 by fast retransmit; segment 19, above every SACKed byte and so never "lost"
  // by IsLost(), by the rescue retransmission, once, although later ACKs leave room.
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{0, 19}));
  EXPECT_EQ(h.conn().info().retransmissions, 2u);
  h.in({.flags = ACK, .seq = 1, .ack = 1 + 20 * kMss});
  ASSERT_FALSE(h.conn().info().in_recovery);
  ASSERT_EQ(h.conn().info().unacked, 0u);

  // Grow the window again in slow start (2, 4, then 8 segments), then lose the head and the
  // tail of the last flight of 8: the second recovery has its own rescue retransmission.
  h.send_bytes(14 * kMss);
  Seq flight_start = base + 20 * kMss;
  std::uint32_t flight = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<Sent> segs = h.drain();
    ASSERT_FALSE(segs.empty());
    const auto i = h.conn().info();
    if (i.send_queued == i.unacked) {  // everything is sent: this is the last flight
      flight_start = segs.front().seq;
      flight = static_cast<std::uint32_t>(segs.size());
      break;
    }
    for (const Sent& s : segs) h.in({.flags = ACK, .seq = 1, .ack = s.rel_seq + s.len()});
  }
  ASSERT_EQ(flight, 8u);
  out = tail_loss_episode(h, flight_start, flight);
  ASSERT_TRUE(h.conn().info().sack_recovery);
  EXPECT_EQ(h.conn().info().fast_retransmits, 2u);
  resent.clear();
  for (const Sent& s : out) {
    EXPECT_TRUE(s.retransmission) << s.str();
    resent.push_back(s.seq.since(flight_start) / kMss);
  }
  EXPECT_EQ(resent, (std::vector<std::uint32_t>{0, flight - 1}));
}

// --- receive-buffer auto-tuning --------------------------------------------------------------

struct TuneResult {
  std::uint32_t max_recv_buffer_seen = 0;
  std::uint32_t final_recv_buffer = 0;
  std::uint32_t max_window_announced = 0;  // the window field, scaled
};

// A client connection with a 10 ms round trip receives `per_rtt` bytes (at most what its
// window allows) each round trip, and the application reads all of it, for `rounds` rounds.
TuneResult receive_rounds(TcpConfig c, std::uint32_t per_rtt, int rounds) {
  Harness h(c);
  TuneResult r;
  EXPECT_EQ(h.conn().open_active(h.now()), Error::none);
  h.out();
  h.advance(10ms);
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .options = opts(0, {}, false, kMss)});
  const std::uint8_t shift = h.conn().info().rcv_wscale;
  auto watch = [&] {
    for (const Sent& s : h.drain())
      r.max_window_announced = std::max(r.max_window_announced, std::uint32_t{s.window} << shift);
    r.max_recv_buffer_seen = std::max(r.max_recv_buffer_seen, h.conn().info().recv_buffer);
  };
  watch();
  std::size_t offset = 0;
  for (int i = 0; i < rounds; ++i) {
    std::uint32_t left = std::min(per_rtt, h.conn().rcv_wnd());
    while (left > 0) {
      const std::uint32_t n = std::min<std::uint32_t>(left, kMss);
      h.in({.flags = ACK, .seq = static_cast<std::uint32_t>(1 + offset), .ack = 1,
            .data = Harness::pattern(offset, n)});
      offset += n;
      left -= n;
      watch();
    }
    const std::uint32_t queued = h.conn().info().recv_queued;
    EXPECT_EQ(h.conn().info().bytes_received, offset) << "every byte sent was accepted";
    EXPECT_EQ(h.receive(16u << 20), Harness::pattern(offset - queued, queued)) << "round " << i;
    watch();
    h.advance(10ms);
  }
  r.final_recv_buffer = h.conn().info().recv_buffer;
  return r;
}

TcpConfig autotune_config(bool on) {
  TcpConfig c = with_options(true, false, false);
  c.auto_tune = on;
  c.recv_buffer = 64 * 1024;
  c.max_recv_buffer = 256 * 1024;
  return c;
}

TEST(AutoTune, ReceiveBufferGrowsWithWhatTheApplicationReadsUpToTheMaximum) {
  const TuneResult r = receive_rounds(autotune_config(true), 1u << 20, 8);
  EXPECT_EQ(r.final_recv_buffer, 256u * 1024) << "grown to max_recv_buffer";
  EXPECT_LE(r.max_recv_buffer_seen, 256u * 1024) << "never beyond it";
  // The peer sees it: a window larger than the 64 KB buffer configured, never beyond the max.
  EXPECT_GT(r.max_window_announced, 128u * 1024);
  EXPECT_LE(r.max_window_announced, 256u * 1024);
}

TEST(AutoTune, NoGrowthWhenSwitchedOff) {
  const TuneResult r = receive_rounds(autotune_config(false), 1u << 20, 8);
  EXPECT_EQ(r.max_recv_buffer_seen, 64u * 1024);
  EXPECT_EQ(r.final_recv_buffer, 64u * 1024);
  EXPECT_LE(r.max_window_announced, 64u * 1024);
}

TEST(AutoTune, NoGrowthWhenTheApplicationReadsLittlePerRoundTrip) {
  // 4 KB per round trip fits the 64 KB buffer many times over: nothing to grow for.
  const TuneResult r = receive_rounds(autotune_config(true), 4096, 20);
  EXPECT_EQ(r.final_recv_buffer, 64u * 1024);
  EXPECT_LE(r.max_window_announced, 64u * 1024);
}

}  // namespace
}  // namespace synfin::test

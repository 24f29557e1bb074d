// Congestion control baseline (MUST-19): slow start and congestion avoidance (RFC 5681),
// fast retransmit on the third duplicate ACK, NewReno partial ACKs (RFC 6582), and the
// collapse to one segment on a retransmission timeout.
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

constexpr std::uint32_t kMss = 1460;

// Established (active) with `segments` full segments sent and not acknowledged.
void in_flight(Harness& h, std::uint32_t segments) {
  h.to_established_active();
  h.send_bytes(segments * kMss);
  for (std::uint32_t i = 0; i < segments; ++i) h.expect(ACK | (i + 1 == segments ? PSH : 0), 1 + i * kMss, 1, kMss);
  h.expect_none();
}

std::uint32_t seg(std::uint32_t i) { return 1 + i * kMss; }  // relative seq of segment i

TEST(Congestion, Rfc6928_InitialWindowIsTenSegments) {
  Harness h;
  h.to_established_active();
  EXPECT_EQ(h.conn().info().cwnd, 10 * kMss);
  h.send_bytes(20 * kMss);
  EXPECT_EQ(h.drain().size(), 10u);
  EXPECT_EQ(h.conn().info().unacked, 10 * kMss);
}

TEST(Congestion, Must19_SlowStartGrowsOneSegmentPerAck) {
  Harness h;
  h.to_established_active();
  h.send_bytes(40 * kMss);
  h.drain();
  std::uint32_t cwnd = 10 * kMss;
  for (std::uint32_t i = 1; i <= 10; ++i) {
    h.in({.flags = ACK, .seq = 1, .ack = seg(i)});
    cwnd += kMss;
    EXPECT_EQ(h.conn().info().cwnd, cwnd);
    EXPECT_EQ(h.drain().size(), 2u);  // one for the segment that left, one for the growth
  }
  // An ACK for two segments at once grows the window by one segment only (RFC 5681
  // section 3.1, byte counting with L = 1).
  h.in({.flags = ACK, .seq = 1, .ack = seg(12)});
  EXPECT_EQ(h.conn().info().cwnd, cwnd + kMss);
}

TEST(Congestion, Must19_RtoCollapsesToOneSegmentThenSlowStartThenAvoidance) {
  Harness h;
  in_flight(h, 10);
  ASSERT_TRUE(h.wait_for_segment());
  h.expect(ACK, seg(0), 1, kMss);  // only the first segment again
  h.expect_none();
  EXPECT_EQ(h.conn().info().cwnd, kMss);
  EXPECT_EQ(h.conn().info().ssthresh, 5 * kMss);  // FlightSize / 2
  // More to send, so that the window is what holds the sender back throughout (a sender
  // that is not using its window does not grow it: see WindowDoesNotGrow... below).
  h.send_bytes(20 * kMss);
  // Slow start up to ssthresh: each ACK of one segment adds one.
  const std::uint32_t want[] = {2, 3, 4, 5};
  for (std::uint32_t i = 0; i < 4; ++i) {
    h.in({.flags = ACK, .seq = 1, .ack = seg(i + 1)});
    EXPECT_EQ(h.conn().info().cwnd, want[i] * kMss) << "after ACK " << i;
  }
  // Congestion avoidance: one segment per window's worth of acknowledged bytes.
  for (std::uint32_t i = 5; i < 10; ++i) {
    EXPECT_EQ(h.conn().info().cwnd, 5 * kMss);
    h.in({.flags = ACK, .seq = 1, .ack = seg(i)});
  }
  EXPECT_EQ(h.conn().info().cwnd, 6 * kMss);
  EXPECT_FALSE(h.conn().info().in_recovery);
}

// RFC 9438 section 5.8: an ACK raises cwnd only while the sender is using its window (cwnd
// under twice what was in flight). Each case fails with the window growing by one segment
// per ACK, as it did before.
TEST(Congestion, WindowDoesNotGrowWhileTheApplicationSendsLessThanItAllows) {
  Harness h;
  h.to_established_active();
  std::uint32_t acked = 0;
  for (int round = 0; round < 20; ++round) {
    h.send_bytes(2 * kMss);  // two segments per round trip, of ten allowed
    h.drain();
    acked += 2;
    h.in({.flags = ACK, .seq = 1, .ack = seg(acked)});
  }
  EXPECT_EQ(h.conn().info().cwnd, 10 * kMss);
  EXPECT_EQ(h.conn().info().unacked, 0u);
}

TEST(Congestion, WindowDoesNotGrowBeyondTwiceWhatThePeersWindowLetsOut) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 3 * kMss});  // the peer's window: three segments
  h.send_bytes(40 * kMss);
  EXPECT_EQ(h.drain().size(), 3u);
  for (std::uint32_t i = 1; i <= 30; ++i) {
    h.in({.flags = ACK, .seq = 1, .ack = seg(i), .win = 3 * kMss});
    h.drain();
  }
  EXPECT_EQ(h.conn().info().unacked, 3 * kMss);
  // Slow start stops where cwnd reaches twice the flight (ten segments were already more
  // than twice three): it stays at its initial ten segments instead of reaching 40.
  EXPECT_EQ(h.conn().info().cwnd, 10 * kMss);
}

TEST(Congestion, WindowGrowsAgainOnceTheSenderFillsIt) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 3 * kMss});
  h.send_bytes(40 * kMss);
  h.drain();
  h.in({.flags = ACK, .seq = 1, .ack = seg(1), .win = 3 * kMss});
  h.drain();
  ASSERT_EQ(h.conn().info().cwnd, 10 * kMss);
  // The peer opens its window wide: the flight fills cwnd, and slow start resumes.
  h.in({.flags = ACK, .seq = 1, .ack = seg(2), .win = 65535});
  h.drain();
  EXPECT_EQ(h.conn().info().unacked, 10 * kMss);
  h.in({.flags = ACK, .seq = 1, .ack = seg(3), .win = 65535});
  EXPECT_EQ(h.conn().info().cwnd, 11 * kMss);
}

TEST(Congestion, Must19_ThreeDupAcksFastRetransmitTheFirstUnackedSegment) {
  Harness h;
  in_flight(h, 10);
  h.in({.flags = ACK, .seq = 1, .ack = seg(1)});  // segment 1 is lost
  h.drain();
  const std::uint32_t flight = h.conn().info().unacked;
  for (int i = 0; i < 2; ++i) {
    h.in({.flags = ACK, .seq = 1, .ack = seg(1)});
    h.expect_none();  // one or two duplicates are not enough
  }
  h.in({.flags = ACK, .seq = 1, .ack = seg(1)});
  Sent r = h.expect(ACK, seg(1), 1, kMss);
  EXPECT_TRUE(r.retransmission);
  EXPECT_EQ(r.text(), Harness::pattern(kMss, kMss));
  h.expect_none();
  const auto i = h.conn().info();
  EXPECT_TRUE(i.in_recovery);
  EXPECT_EQ(i.fast_retransmits, 1u);
  EXPECT_EQ(i.ssthresh, flight / 2);
  EXPECT_EQ(i.cwnd, flight / 2 + 3 * kMss);
  // Further duplicates inflate the window; nothing is retransmitted again.
  h.in({.flags = ACK, .seq = 1, .ack = seg(1)});
  EXPECT_EQ(h.conn().info().cwnd, flight / 2 + 4 * kMss);
  EXPECT_EQ(h.conn().info().fast_retransmits, 1u);
}

TEST(Congestion, DupAckWithWindowChangeIsNotADuplicate) {
  Harness h;
  in_flight(h, 10);
  for (std::uint16_t w = 60000; w < 60003; ++w) h.in({.flags = ACK, .seq = 1, .ack = 1, .win = w});
  h.expect_none();
  EXPECT_EQ(h.conn().info().fast_retransmits, 0u);
}

TEST(Congestion, Rfc6582_PartialAckRetransmitsTheNextHole) {
  Harness h;
  in_flight(h, 10);
  // Segments 0 and 3 are lost.
  for (int i = 0; i < 3; ++i) h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.expect(ACK, seg(0), 1, kMss);
  h.expect_none();
  // The retransmission fills the first hole: the ACK stops at the second one, short of
  // `recover` (SND.NXT when recovery began): a partial ACK.
  h.in({.flags = ACK, .seq = 1, .ack = seg(3)});
  Sent r = h.expect(ACK, seg(3), 1, kMss);
  EXPECT_TRUE(r.retransmission);
  EXPECT_TRUE(h.conn().info().in_recovery);
  EXPECT_EQ(h.conn().info().fast_retransmits, 1u);
  // The full ACK ends recovery, deflating to min(ssthresh, max(FlightSize, SMSS) + SMSS)
  // (section 3.2 step 6, option 1): nothing is left in flight, so two segments.
  h.in({.flags = ACK, .seq = 1, .ack = seg(10)});
  EXPECT_FALSE(h.conn().info().in_recovery);
  EXPECT_EQ(h.conn().info().ssthresh, 5 * kMss);
  EXPECT_EQ(h.conn().info().cwnd, 2 * kMss);
  EXPECT_EQ(h.conn().info().timeouts, 0u);
}

TEST(Congestion, Rfc6582_NoSecondFastRetransmitForTheSameWindow) {
  Harness h;
  in_flight(h, 10);
  for (int i = 0; i < 3; ++i) h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.expect(ACK, seg(0), 1, kMss);
  ASSERT_TRUE(h.wait_for_segment());  // the retransmission is lost too: RTO
  h.expect(ACK, seg(0), 1, kMss);
  EXPECT_EQ(h.conn().info().cwnd, kMss);
  // Duplicate ACKs for data sent before the timeout do not start another recovery.
  for (int i = 0; i < 3; ++i) h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.expect_none();
  EXPECT_EQ(h.conn().info().fast_retransmits, 1u);
}

TEST(Congestion, Rfc5681_IdleRestartFromInitialWindow) {
  Harness h;
  h.to_established_active();
  h.send_bytes(40 * kMss);
  for (int round = 0; round < 3; ++round) {
    for (const Sent& s : h.drain()) h.in({.flags = ACK, .seq = 1, .ack = s.rel_seq + s.len()});
  }
  h.in({.flags = ACK, .seq = 1, .ack = h.rel_snd_nxt()});
  h.drain();
  h.in({.flags = ACK, .seq = 1, .ack = h.rel_snd_nxt()});
  ASSERT_EQ(h.conn().info().unacked, 0u);
  ASSERT_GT(h.conn().info().cwnd, 10 * kMss);
  h.advance(10s);  // idle for more than an RTO
  h.send_bytes(20 * kMss);
  EXPECT_EQ(h.drain().size(), 10u);
  EXPECT_EQ(h.conn().info().cwnd, 10 * kMss);
}

}  // namespace
}  // namespace synfin::test

// Delayed ACKs (RFC 9293 section 3.8.6.3, RFC 5681 section 4.2): an in-order segment waits
// at most delayed_ack (never 0.5 s or more, MUST-40), every second full-sized segment is
// acknowledged at once (SHLD-19), out-of-order data and hole fills at once (MAY-13), and
// reply data carries the ACK.
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

TcpConfig delayed(Duration d = 40ms) {
  TcpConfig c = Harness::default_config();
  c.delayed_ack = d;
  return c;
}

TEST(DelayedAck, Shld18_Must40_SingleSegmentAckedAfterTheDelay) {
  Harness h(delayed());
  h.to_established_passive();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "hello"});
  h.expect_none();  // SHLD-18: not at once
  const Instant arrived = h.now();
  ASSERT_TRUE(h.wait_for_segment(1s));
  Sent a = h.expect(ACK, 1, 6);
  EXPECT_EQ(a.at - arrived, 40ms);
}

TEST(DelayedAck, Must40_NeverHalfASecondOrMore) {
  Harness h(delayed(2s));  // a misconfiguration
  h.to_established_passive();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "hello"});
  const Instant arrived = h.now();
  ASSERT_TRUE(h.wait_for_segment(1s));
  Sent a = h.expect(ACK, 1, 6);
  EXPECT_LT(a.at - arrived, 500ms);
}

TEST(DelayedAck, DelayIsNotExtendedBySecondSmallSegment) {
  Harness h(delayed());
  h.to_established_passive();
  const Instant t0 = h.now();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "ab"});
  h.advance(30ms);
  h.in({.flags = ACK | PSH, .seq = 3, .ack = 1, .data = "cd"});
  h.expect_none();
  ASSERT_TRUE(h.wait_for_segment(1s));
  Sent a = h.expect(ACK, 1, 5);  // one ACK for both
  EXPECT_EQ(a.at - t0, 40ms);
}

TEST(DelayedAck, Shld19_EverySecondFullSizedSegmentAckedAtOnce) {
  Harness h(delayed());
  h.to_established_passive();  // the peer's MSS and ours: 1460
  const std::string seg(1460, 'f');
  for (int i = 0; i < 6; ++i) {
    h.in({.flags = ACK, .seq = 1 + 1460u * i, .ack = 1, .data = seg});
    if (i % 2 == 0) {
      h.expect_none();
    } else {
      h.expect(ACK, 1, 1 + 1460u * (i + 1));
    }
  }
}

TEST(DelayedAck, May13_OutOfOrderSegmentAckedAtOnce) {
  Harness h(delayed());
  h.to_established_passive();
  h.in({.flags = ACK, .seq = 101, .ack = 1, .data = "later"});
  h.expect(ACK, 1, 1);  // a duplicate ACK for RCV.NXT, no delay
  // The hole fills: acknowledged at once as well (RFC 5681 section 4.2).
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = std::string(100, 'x')});
  h.expect(ACK, 1, 106);
}

TEST(DelayedAck, ReplyDataCarriesTheAck) {
  Harness h(delayed());
  h.to_established_passive();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "GET /"});
  h.advance(10ms);
  EXPECT_EQ(h.receive(), "GET /");
  h.send("200 OK");
  h.expect(ACK | PSH, 1, 6, 6);  // piggybacked
  h.in({.flags = ACK, .seq = 6, .ack = 7});
  h.advance(1s);
  h.expect_none();  // and no separate ACK later
}

TEST(DelayedAck, FinIsAckedAtOnce) {
  Harness h(delayed());
  h.to_established_passive();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "abc"});
  h.expect_none();
  h.in({.flags = FIN | ACK, .seq = 4, .ack = 1});
  h.expect(ACK, 1, 5);
}

TEST(DelayedAck, ZeroConfigAcksEverySegmentAtOnce) {
  Harness h;  // the harness default: delayed_ack = 0
  h.to_established_passive();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "a"});
  h.expect(ACK, 1, 2);
  h.in({.flags = ACK | PSH, .seq = 2, .ack = 1, .data = "b"});
  h.expect(ACK, 1, 3);
}

}  // namespace
}  // namespace synfin::test

// Keep-alive (RFC 9293 section 3.8.4, MUST-24..29, SHLD-12): off by default, switched per
// connection, two hours of idleness by default, a probe that carries no data and
// SEG.SEQ = SND.NXT - 1, sent only when nothing is outstanding, and several unanswered
// probes before the connection is given up.
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

TEST(KeepAlive, Must25_OffByDefault) {
  Harness h;
  h.to_established_active();
  EXPECT_FALSE(h.conn().options().keepalive);
  EXPECT_FALSE(h.wait_for_segment(3h).has_value());
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(KeepAlive, Must24_Must28_Shld12_PerConnectionWithTwoHourDefault) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive(true, h.now());
  const Instant t0 = h.now();
  ASSERT_TRUE(h.wait_for_segment(3h));
  Sent p = h.expect(ACK, 0, 1);  // <SEQ=SND.NXT-1><ACK=RCV.NXT><CTL=ACK>
  EXPECT_EQ(p.len(), 0u);        // SHLD-12: no data
  EXPECT_EQ(p.at - t0, 7200s);   // MUST-28
  EXPECT_EQ(h.conn().info().keepalive_probes, 1u);
  // The peer answers; the next probe comes two hours later.
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.expect_none();
  const Instant t1 = h.now();
  ASSERT_TRUE(h.wait_for_segment(3h));
  EXPECT_EQ(h.expect(ACK, 0, 1).at - t1, 7200s);
}

TEST(KeepAlive, Must24_SwitchedOffAgain) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive(true, h.now());
  h.advance(3600s);
  h.conn().set_keepalive(false, h.now());
  EXPECT_FALSE(h.wait_for_segment(5h).has_value());
}

TEST(KeepAlive, Must24_ConfigDefaultAppliesToNewConnections) {
  TcpConfig c = Harness::default_config();
  c.keepalive = true;
  c.keepalive_idle = 60s;
  Harness h(c);
  h.to_established_active();
  const Instant t0 = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  EXPECT_EQ(h.expect(ACK, 0, 1).at - t0, 60s);
}

TEST(KeepAlive, Must27_IdleIntervalAndCountAreConfigurable) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive_params(30s, 10s, 3, h.now());
  h.conn().set_keepalive(true, h.now());
  const Instant t0 = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  EXPECT_EQ(h.expect(ACK, 0, 1).at - t0, 30s);
  ASSERT_TRUE(h.wait_for_segment());
  EXPECT_EQ(h.expect(ACK, 0, 1).at - t0, 40s);
}

TEST(KeepAlive, Must29_OneLostProbeIsNotFatal) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive_params(30s, 10s, 3, h.now());
  h.conn().set_keepalive(true, h.now());
  const Instant t0 = h.now();
  h.advance(55s);  // probes at 30, 40 and 50 s, unanswered
  EXPECT_EQ(h.drain().size(), 3u);
  EXPECT_EQ(h.state(), TcpState::established);
  h.in({.flags = ACK, .seq = 1, .ack = 1});  // the answer to the third
  h.advance(60s - 1us);                    // until just before the abort would have been
  EXPECT_EQ(h.state(), TcpState::established);
  // The count starts over: the next probe 30 s after the answer.
  auto probes = h.drain();
  ASSERT_EQ(probes.size(), 3u);
  EXPECT_EQ(probes[0].at - t0, 85s);
}

TEST(KeepAlive, Must29_AbortOnlyAfterAllProbesUnanswered) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive_params(30s, 10s, 3, h.now());
  h.conn().set_keepalive(true, h.now());
  const Instant t0 = h.now();
  h.advance(60s - 1us);
  EXPECT_EQ(h.drain().size(), 3u);
  EXPECT_EQ(h.state(), TcpState::established);
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.now() - t0, 60s);
  EXPECT_EQ(h.conn().error(), Error::timed_out);
  EXPECT_EQ(h.last_event(EventKind::closed)->error, Error::timed_out);
  EXPECT_EQ(h.changes().back().cause, StateCause::keepalive_limit);
  h.expect_none();  // no RST: the peer is presumed gone
}

TEST(KeepAlive, Must29_DefaultProbeCount) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive(true, h.now());
  const Instant t0 = h.now();
  h.advance(7200s + 9 * 75s - 1us);
  EXPECT_EQ(h.drain().size(), 9u);
  EXPECT_EQ(h.state(), TcpState::established);
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.now() - t0, 7200s + 9 * 75s);
}

TEST(KeepAlive, Must26_AnySegmentRestartsTheIdleTimer) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive_params(30s, 10s, 3, h.now());
  h.conn().set_keepalive(true, h.now());
  h.advance(20s);
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "ping"});
  h.expect(ACK, 1, 5);
  const Instant heard = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  Sent p = h.expect(ACK, 0, 5);
  EXPECT_EQ(p.at - heard, 30s);
}

TEST(KeepAlive, Must26_NoProbeWhileDataIsOutstanding) {
  TcpConfig c = Harness::default_config();
  c.r2_timeout = 3600s;
  Harness h(c);
  h.to_established_active();
  h.conn().set_keepalive_params(30s, 10s, 3, h.now());
  h.conn().set_keepalive(true, h.now());
  h.send("unacked");
  h.expect(ACK | PSH, 1, 1, 7);
  // Only retransmissions of the data follow, never an empty probe, and the connection is
  // not aborted by the keep-alive count.
  const Instant t0 = h.now();
  while (h.wait_for_segment(t0 + 600s - h.now())) {
    for (const Sent& s : h.drain()) {
      EXPECT_EQ(s.rel_seq, 1u);
      EXPECT_EQ(s.len(), 7u);
    }
  }
  EXPECT_EQ(h.conn().info().keepalive_probes, 0u);
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(KeepAlive, Must26_NoProbeWhileDataWaitsForTheWindow) {
  Harness h;
  h.to_established_active();
  h.conn().set_keepalive_params(30s, 10s, 3, h.now());
  h.conn().set_keepalive(true, h.now());
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  h.send("queued");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(h.wait_for_segment());
    Sent s = h.out();
    EXPECT_EQ(s.len(), 1u);  // zero-window probes, not keep-alives
    h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  }
  EXPECT_EQ(h.conn().info().keepalive_probes, 0u);
}

TEST(KeepAlive, ProbeInCloseWaitAndFinWait2) {
  for (bool close_wait : {true, false}) {
    SCOPED_TRACE(close_wait ? "CLOSE-WAIT" : "FIN-WAIT-2");
    Harness h;
    if (close_wait) {
      h.to_close_wait();
    } else {
      h.to_fin_wait_2();
    }
    h.conn().set_keepalive_params(30s, 10s, 3, h.now());
    h.conn().set_keepalive(true, h.now());
    ASSERT_TRUE(h.wait_for_segment(31s));
    Sent p = h.out();
    EXPECT_EQ(p.flags, ACK);
    EXPECT_EQ(p.seq, h.conn().snd_nxt() - 1);
    EXPECT_EQ(p.len(), 0u);
  }
}

}  // namespace
}  // namespace synfin::test

// Timers in virtual time, to the microsecond: the retransmission timeout (RFC 6298, MUST-18,
// MUST-19), SYN and SYN-ACK retransmission and their limits (MUST-22, MUST-23), the R1 and
// R2 thresholds and the user timeout (MUST-20, MUST-21, SHLD-9..11), and zero-window probing
// (MUST-35..37, SHLD-29, SHLD-30).
#include <vector>

#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

// The times (relative to `from`) of every segment the connection sends until `limit`,
// without answering any of them. Each is checked with `check`.
template <typename F>
std::vector<Duration> black_hole(Harness& h, Instant from, Duration limit, F check) {
  std::vector<Duration> times;
  while (auto t = h.wait_for_segment(from + limit - h.now())) {
    for (const Sent& s : h.drain()) {
      check(s);
      times.push_back(s.at - from);
    }
  }
  return times;
}

std::vector<Duration> cumulative(std::initializer_list<Duration> intervals) {
  std::vector<Duration> v;
  Duration t{};
  for (Duration d : intervals) v.push_back(t += d);
  return v;
}

// Established with one RTT sample of `rtt` from the handshake.
void establish_with_rtt(Harness& h, Duration rtt) {
  h.to_syn_sent();
  h.advance(rtt);
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .mss = 1460});
  h.expect(ACK, 1, 1);
  h.clear_events();
}

// --- RTO (RFC 6298) ---

TEST(Rto, Rfc6298_InitialRtoIsOneSecond) {
  Harness h;
  const Instant t0 = h.now();
  h.to_syn_sent();
  ASSERT_TRUE(h.wait_for_segment());
  Sent s = h.expect(SYN, 0, 0);
  EXPECT_EQ(s.at - t0, 1s);
  EXPECT_TRUE(s.retransmission);
}

TEST(Rto, Must18_FirstSampleSetsSrttAndRttvar) {
  Harness h;
  establish_with_rtt(h, 100ms);
  const auto i = h.conn().info();
  EXPECT_EQ(i.srtt, 100ms);
  EXPECT_EQ(i.rttvar, 50ms);
  EXPECT_EQ(i.rto, 300ms);  // SRTT + 4 * RTTVAR
  h.send("x");
  h.expect(ACK | PSH, 1, 1, 1);
  const Instant sent = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  Sent r = h.expect(ACK | PSH, 1, 1, 1);
  EXPECT_EQ(r.at - sent, 300ms);
}

TEST(Rto, Must18_LaterSamplesAreSmoothed) {
  Harness h;
  establish_with_rtt(h, 100ms);
  h.send("x");
  h.expect(ACK | PSH, 1, 1, 1);
  h.advance(200ms);
  h.in({.flags = ACK, .seq = 1, .ack = 2});
  // err = 100 ms: RTTVAR = 3/4 * 50 + 1/4 * 100 = 62.5 ms; SRTT = 7/8 * 100 + 1/8 * 200.
  const auto i = h.conn().info();
  EXPECT_EQ(i.srtt, 112500us);
  EXPECT_EQ(i.rttvar, 62500us);
  EXPECT_EQ(i.rto, 112500us + 4 * 62500us);
}

TEST(Rto, MinRtoIs200ms) {
  Harness h;
  establish_with_rtt(h, 10ms);
  EXPECT_EQ(h.conn().info().rto, 200ms);  // 10 + 4 * 5 = 30 ms, raised to min_rto
}

TEST(Rto, Must19_DataBackoffDoublesUpToMaxRto) {
  TcpConfig c = Harness::default_config();
  c.r2_timeout = 3600s;  // keep R2 out of the way
  Harness h(c);
  establish_with_rtt(h, 100ms);  // RTO 300 ms
  h.send(std::string(100, 'd'));
  h.expect(ACK | PSH, 1, 1, 100);
  const Instant t0 = h.now();
  auto times = black_hole(h, t0, 400s, [](const Sent& s) {
    EXPECT_EQ(s.rel_seq, 1u);  // always the first unacknowledged segment
    EXPECT_EQ(s.len(), 100u);
    EXPECT_TRUE(s.retransmission);
  });
  EXPECT_EQ(times, cumulative({300ms, 600ms, 1200ms, 2400ms, 4800ms, 9600ms, 19200ms, 38400ms,
                               60s, 60s, 60s, 60s, 60s}));
  EXPECT_EQ(h.conn().info().rto, 60s);
  EXPECT_EQ(h.conn().info().timeouts, 13u);
}

TEST(Rto, Must18_KarnNoSampleFromRetransmittedSegment) {
  Harness h;
  establish_with_rtt(h, 100ms);
  h.send("a");
  h.expect(ACK | PSH, 1, 1, 1);
  ASSERT_TRUE(h.wait_for_segment());  // retransmitted after 300 ms
  h.expect(ACK | PSH, 1, 1, 1);
  h.advance(50ms);
  h.in({.flags = ACK, .seq = 1, .ack = 2});  // ambiguous: for the first or second copy?
  EXPECT_EQ(h.conn().info().srtt, 100ms);
  EXPECT_EQ(h.conn().info().rttvar, 50ms);
  EXPECT_EQ(h.conn().info().rto, 600ms);  // the backed-off RTO is kept
  // New data: the backed-off timer runs until a clean sample arrives.
  h.send("b");
  h.expect(ACK | PSH, 2, 1, 1);
  const Instant sent = h.now();
  h.advance(100ms);
  h.in({.flags = ACK, .seq = 1, .ack = 3});
  EXPECT_EQ(h.conn().info().rto, 100ms + 4 * 37500us);  // 3/4 * 50 ms
  EXPECT_EQ(h.now() - sent, 100ms);
}

TEST(Rto, Rfc6298_LostSynRaisesDataRtoToThreeSeconds) {
  Harness h;
  h.to_syn_sent();
  ASSERT_TRUE(h.wait_for_segment());
  h.expect(SYN, 0, 0);  // retransmitted at 1 s
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  h.expect(ACK, 1, 1);
  EXPECT_FALSE(h.conn().info().srtt > 0us);  // Karn: no sample from the handshake
  h.send("x");
  h.expect(ACK | PSH, 1, 1, 1);
  const Instant sent = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  EXPECT_EQ(h.out().at - sent, 3s);
}

TEST(Rto, Must19_TimeoutResendsOnlyTheFirstSegment) {
  Harness h;
  h.to_established_active();
  h.send_bytes(3 * 1460);
  h.expect(ACK, 1, 1, 1460);
  h.expect(ACK, 1461, 1, 1460);
  h.expect(ACK | PSH, 2921, 1, 1460);
  ASSERT_TRUE(h.wait_for_segment());
  Sent r = h.out();  // cwnd is one segment after a timeout
  EXPECT_EQ(r.rel_seq, 1u);
  EXPECT_EQ(r.len(), 1460u);
  EXPECT_EQ(r.text(), Harness::pattern(0, 1460));
  EXPECT_EQ(h.conn().info().cwnd, 1460u);
  // Its ACK lets the next two go (slow start from one segment).
  h.in({.flags = ACK, .seq = 1, .ack = 1461});
  h.expect(ACK, 1461, 1, 1460);
  h.expect(ACK | PSH, 2921, 1, 1460);
  h.expect_none();
}

// --- SYN retransmission (MUST-22, MUST-23, SHLD-9, SHLD-10) ---

TEST(SynRetransmit, Must23_BacksOffAndGivesUpNoEarlierThan180s) {
  Harness h;
  const Instant t0 = h.now();
  h.to_syn_sent();
  auto times = black_hole(h, t0, 1h, [](const Sent& s) {
    EXPECT_EQ(s.flags, SYN);
    EXPECT_EQ(s.rel_seq, 0u);
    EXPECT_TRUE(s.options.has_mss);
  });
  // 1, 2, 4, ... s (MUST-22: the data backoff), the interval capped at max_rto 60 s.
  EXPECT_EQ(times, cumulative({1s, 2s, 4s, 8s, 16s, 32s, 60s}));
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.conn().error(), Error::timed_out);
  auto closed = h.last_event(EventKind::closed);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->error, Error::timed_out);
  EXPECT_FALSE(h.has_event(EventKind::reset));
  EXPECT_EQ(h.changes().back().cause, StateCause::retransmit_limit);
}

TEST(SynRetransmit, Must23_StillTryingJustBefore180s) {
  Harness h;
  const Instant t0 = h.now();
  h.to_syn_sent();
  h.advance(180s - 1us);
  EXPECT_EQ(h.state(), TcpState::syn_sent);
  h.drain();
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.now() - t0, 180s);
  // A SYN-ACK just before the end still connects.
  Harness g;
  g.to_syn_sent();
  g.advance(179s);
  g.drain();
  g.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  g.expect(ACK, 1, 1);
  EXPECT_EQ(g.state(), TcpState::established);
}

TEST(SynRetransmit, Shld9_SoftErrorAtR1) {
  Harness h;
  const Instant t0 = h.now();
  h.to_syn_sent();
  h.advance(7s - 1us);  // retransmissions at 1 and 3 s
  EXPECT_FALSE(h.has_event(EventKind::soft_error));
  h.advance(1us);  // the third, R1 = 3 (SHLD-10)
  auto e = h.last_event(EventKind::soft_error);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error, Error::timed_out);
  EXPECT_EQ(h.count_events(EventKind::soft_error), 1u);
  EXPECT_EQ(h.state(), TcpState::syn_sent);  // and it keeps trying
  EXPECT_EQ(h.now() - t0, 7s);
}

TEST(SynRetransmit, SynAckRetransmittedThenHalfOpenReturnsToListen) {
  Harness h;
  h.to_listen();
  const Instant t0 = h.now();
  h.in({.flags = SYN, .seq = 0, .ack = 0});
  h.expect(SYN | ACK, 0, 1);
  auto times = black_hole(h, t0, 1h, [](const Sent& s) {
    EXPECT_EQ(wire::flags_to_string(s.flags), "S.");
    EXPECT_EQ(s.rel_seq, 0u);
    EXPECT_EQ(s.rel_ack, 1u);
  });
  EXPECT_EQ(times, cumulative({1s, 2s, 4s, 8s, 16s, 32s}));
  EXPECT_EQ(h.state(), TcpState::listen);
  EXPECT_EQ(h.changes().back().cause, StateCause::retransmit_limit);
  // syn_received_timeout: LISTEN again 75 s after the SYN, not before.
  EXPECT_EQ(h.now() - t0, 75s);
  EXPECT_FALSE(h.has_event(EventKind::closed));
  h.in({.flags = SYN, .seq = 7000, .ack = 0});
  h.expect(SYN | ACK, 0, 7001);
  EXPECT_EQ(h.state(), TcpState::syn_received);
}

TEST(SynRetransmit, SynAckRetransmissionStopsWhenAcked) {
  Harness h;
  h.to_syn_received_passive();
  ASSERT_TRUE(h.wait_for_segment());
  h.expect(SYN | ACK, 0, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_FALSE(h.wait_for_segment(1h).has_value());
  EXPECT_EQ(h.conn().info().cwnd, 1460u);  // RFC 5681 section 3.1: the SYN-ACK was lost
}

// --- R1, R2 and the user timeout (MUST-20, MUST-21, SHLD-9..11) ---

TEST(R2, Must20_DataGivesUpAfterR2) {
  Harness h;
  h.to_established_active();  // RTO 200 ms
  h.send("lost");
  h.expect(ACK | PSH, 1, 1, 4);
  const Instant t0 = h.now();
  auto times = black_hole(h, t0, 1h, [](const Sent& s) { EXPECT_EQ(s.rel_seq, 1u); });
  ASSERT_FALSE(times.empty());
  EXPECT_LT(times.back(), 300s);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.now() - t0, 300s);  // r2_timeout after the data was sent
  EXPECT_EQ(h.conn().error(), Error::timed_out);
  EXPECT_EQ(h.last_event(EventKind::closed)->error, Error::timed_out);
  std::uint8_t b[4];
  EXPECT_EQ(h.conn().receive(b, h.now()).error(), Error::timed_out);
}

TEST(R2, Shld11_NoAbortBefore100s) {
  Harness h;
  h.to_established_active();
  h.send("lost");
  h.drain();
  h.advance(100s);
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_GE(h.config().r2_timeout, 100s);
}

TEST(R2, Shld9_SoftErrorAtR1ThenContinues) {
  Harness h;
  h.to_established_active();
  h.send("lost");
  h.drain();
  const Instant t0 = h.now();
  h.advance(1400ms - 1us);  // retransmissions at 0.2 and 0.6 s
  EXPECT_FALSE(h.has_event(EventKind::soft_error));
  h.advance(1us);  // the third
  auto e = h.last_event(EventKind::soft_error);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error, Error::timed_out);
  EXPECT_EQ(h.now() - t0, 1400ms);
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().info().last_error, Error::timed_out);
}

TEST(R2, Must21_UserTimeoutPerConnection) {
  Harness h;
  h.to_established_active();
  h.conn().set_user_timeout(5s);
  h.send("lost");
  h.drain();
  const Instant t0 = h.now();
  h.advance(5s - 1us);
  EXPECT_EQ(h.state(), TcpState::established);
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.now() - t0, 5s);
  EXPECT_EQ(h.conn().error(), Error::timed_out);
}

TEST(R2, Must21_UserTimeoutNeverGivesUp) {
  Harness h;
  h.to_established_active();
  h.conn().set_user_timeout(tcp::ConnectionOptions::kNoTimeout);
  h.send("lost");
  h.drain();
  h.advance(3h);
  EXPECT_EQ(h.state(), TcpState::established);
  h.drain();
  // Still retransmitting, at max_rto.
  ASSERT_TRUE(h.wait_for_segment(61s));
  EXPECT_EQ(h.out().rel_seq, 1u);
  EXPECT_EQ(h.conn().info().rto, 60s);
}

TEST(R2, ProgressRestartsTheR2Clock) {
  Harness h;
  h.to_established_active();
  h.send("ab");
  h.expect(ACK | PSH, 1, 1, 2);
  h.advance(200s);
  h.drain();
  h.in({.flags = ACK, .seq = 1, .ack = 2});  // one byte acknowledged after 200 s
  const Instant progress = h.now();
  h.advance(299s);
  EXPECT_EQ(h.state(), TcpState::established);
  h.advance(1s);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.now() - progress, 300s);
}

// --- zero-window probing (MUST-35..37, SHLD-29, SHLD-30) ---

TEST(Persist, Must36_Shld29_Shld30_ProbesBackOffExponentially) {
  Harness h;
  h.to_established_active();  // RTO 200 ms
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  h.send("hello");
  h.expect_none();
  const Instant t0 = h.now();
  std::vector<Duration> times;
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(h.wait_for_segment());
    Sent p = h.out();
    EXPECT_EQ(p.len(), 1u);  // one byte past the closed window
    EXPECT_EQ(p.rel_seq, 1u);
    EXPECT_EQ(p.text(), "h");
    times.push_back(p.at - t0);
    h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});  // the peer still has no room
    h.expect_none();
  }
  // The first probe one RTO after the window closed (SHLD-29), then doubling (SHLD-30),
  // up to max_rto.
  EXPECT_EQ(times, cumulative({200ms, 400ms, 800ms, 1600ms, 3200ms, 6400ms, 12800ms, 25600ms,
                               51200ms, 60s, 60s, 60s}));
  EXPECT_EQ(h.conn().info().zero_window_probes, 12u);
  EXPECT_EQ(h.conn().info().fast_retransmits, 0u);  // probe answers are not loss signals
  // The window opens: everything goes, once.
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 1000});
  h.expect(ACK | PSH, 1, 1, 5);
  h.expect_none();
}

TEST(Persist, Must37_ConnectionKeptForHoursWhileProbesAreAnswered) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  h.send("data");
  const Instant t0 = h.now();
  while (h.now() - t0 < 3h) {
    ASSERT_TRUE(h.wait_for_segment()) << "probing stopped";
    Sent p = h.out();
    EXPECT_EQ(p.len(), 1u);
    h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  }
  EXPECT_EQ(h.state(), TcpState::established);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 100});
  h.expect(ACK | PSH, 1, 1, 4);
}

TEST(Persist, ProbeByteAcceptedByPeer) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  h.send("hello");
  ASSERT_TRUE(h.wait_for_segment());
  h.expect(ACK, 1, 1, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 2, .win = 0});  // took the byte, still closed
  ASSERT_TRUE(h.wait_for_segment());
  Sent p = h.out();
  EXPECT_EQ(p.rel_seq, 2u);
  EXPECT_EQ(p.text(), "e");
  h.in({.flags = ACK, .seq = 1, .ack = 3, .win = 500});
  h.expect(ACK | PSH, 3, 1, 3);
  h.expect_none();
}

TEST(Persist, Must35_WindowShrunkToZeroWithDataInFlightIsProbed) {
  Harness h;
  h.to_established_active();
  h.send_bytes(1000);
  h.expect(ACK | PSH, 1, 1, 1000);
  // The peer takes nothing and closes its window.
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  const Instant t0 = h.now();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(h.wait_for_segment());
    Sent p = h.out();
    EXPECT_EQ(p.rel_seq, 1u);
    EXPECT_LE(p.len(), 1u);
    h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  }
  EXPECT_GT(h.now() - t0, 600s);  // beyond R2, as long as the peer answers
  EXPECT_EQ(h.state(), TcpState::established);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 4000});
  Sent s = h.out();
  EXPECT_EQ(s.rel_seq, 1u);
  EXPECT_EQ(s.len(), 1000u);
}

TEST(Persist, SilentPeerIsGivenUpOn) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  const Instant heard = h.now();
  h.send("data");
  h.advance(2h);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.conn().error(), Error::timed_out);
  // R2 after the peer was last heard from, to the microsecond.
  EXPECT_EQ(*h.entered(TcpState::closed) - heard, 300s);
}

}  // namespace
}  // namespace synfin::test

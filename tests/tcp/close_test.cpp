// Closing (RFC 9293 sections 3.6, 3.10.4 and 3.10.7.4 step 8): the four-way close in both
// roles, half-close in both directions, simultaneous close through CLOSING, TIME-WAIT for
// exactly 2 MSL (MUST-13), FIN versus RST as the application sees them (MUST-12), and the
// resets of SHLD-3.
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

std::uint8_t buf[1 << 16];

TEST(Close, ActiveCloseFourWayExactSegments) {
  Harness h;
  h.to_established_active();
  h.send("request");
  h.expect(ACK | PSH, 1, 1, 7);
  h.in({.flags = ACK, .seq = 1, .ack = 8});
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  h.expect(FIN | ACK, 8, 1);  // <SEQ=8><ACK=1><CTL=FIN,ACK>
  h.in({.flags = ACK, .seq = 1, .ack = 9});
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.expect_none();
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 9});
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.expect(ACK, 9, 2);
  h.advance(2 * h.config().msl);
  EXPECT_EQ(h.state(), TcpState::closed);
  h.expect_none();
  auto closed = h.last_event(EventKind::closed);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->error, Error::none);
  EXPECT_EQ(h.states_visited(),
            (std::vector<TcpState>{TcpState::closed, TcpState::syn_sent, TcpState::established,
                                   TcpState::fin_wait_1, TcpState::fin_wait_2,
                                   TcpState::time_wait, TcpState::closed}));
}

TEST(Close, PassiveCloseFourWayExactSegments) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::close_wait);
  h.expect(ACK, 1, 2);
  EXPECT_TRUE(h.has_event(EventKind::peer_closed));
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  EXPECT_EQ(h.state(), TcpState::last_ack);
  h.expect(FIN | ACK, 1, 2);
  h.in({.flags = ACK, .seq = 2, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::closed);  // no TIME-WAIT for the passive closer
  h.expect_none();
  EXPECT_EQ(h.last_event(EventKind::closed)->error, Error::none);
  EXPECT_EQ(h.conn().next_deadline(), kNever);
}

// The server finishes its response after the client's FIN: CLOSE-WAIT is a half-open
// connection in which we keep sending (RFC 9293 section 3.6, MAY-1 discussion).
TEST(Close, HalfCloseWeKeepSendingAfterPeerFin) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = FIN | ACK | PSH, .seq = 1, .ack = 1, .data = "GET /"});
  h.expect(ACK, 1, 7);
  EXPECT_EQ(h.state(), TcpState::close_wait);
  EXPECT_EQ(h.receive(), "GET /");
  auto eof = h.conn().receive(buf, h.now());
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(*eof, 0u);  // end of stream, not an error
  h.send(std::string(3000, 'r'));
  h.expect(ACK, 1, 7, 1460);
  h.expect(ACK, 1461, 7, 1460);
  h.expect_none();  // Nagle holds the small tail while data is unacknowledged
  h.in({.flags = ACK, .seq = 7, .ack = 2921});
  h.expect(ACK | PSH, 2921, 7, 80);
  h.in({.flags = ACK, .seq = 7, .ack = 3001});
  h.expect_none();
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  h.expect(FIN | ACK, 3001, 7);
  EXPECT_EQ(h.state(), TcpState::last_ack);
  h.in({.flags = ACK, .seq = 7, .ack = 3002});
  EXPECT_EQ(h.state(), TcpState::closed);
}

// shutdown_write: our FIN goes out, and we keep receiving until the peer closes.
TEST(Close, HalfCloseWeKeepReceivingAfterShutdownWrite) {
  Harness h;
  h.to_established_active();
  ASSERT_EQ(h.conn().shutdown_write(h.now()), Error::none);
  h.expect(FIN | ACK, 1, 1);
  // Data while our FIN is unacknowledged (FIN-WAIT-1).
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "one"});
  h.expect(ACK, 2, 4);
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  h.in({.flags = ACK, .seq = 4, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.in({.flags = ACK | PSH, .seq = 4, .ack = 2, .data = "two"});
  h.expect(ACK, 2, 7);
  EXPECT_EQ(h.receive(), "onetwo");
  // Sending is over.
  auto s = h.conn().send(std::span<const std::uint8_t>(buf, 1), h.now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), Error::closing);
  h.in({.flags = FIN | ACK, .seq = 7, .ack = 2});
  h.expect(ACK, 2, 8);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  EXPECT_EQ(*h.conn().receive(buf, h.now()), 0u);
}

TEST(Close, QueuedDataGoesBeforeFin) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});  // nothing can go yet
  h.send("tail");
  ASSERT_EQ(h.conn().shutdown_write(h.now()), Error::none);
  h.expect_none();
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 1000});
  h.expect(FIN | ACK | PSH, 1, 1, 4);  // data and FIN together
  h.in({.flags = ACK, .seq = 1, .ack = 6});
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
}

TEST(Close, SimultaneousCloseThroughClosing) {
  Harness h;
  h.to_closing();  // our FIN and theirs crossed; we ACKed theirs: <SEQ=2><ACK=2>
  h.in({.flags = ACK, .seq = 2, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.expect_none();
  EXPECT_EQ(h.states_visited().back(), TcpState::time_wait);
  h.advance(2 * h.config().msl);
  EXPECT_EQ(h.state(), TcpState::closed);
}

TEST(Close, FinAckingOurFinInFinWait1GoesStraightToTimeWait) {
  Harness h;
  h.to_fin_wait_1();
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 2});
  h.expect(ACK, 2, 2);
  EXPECT_EQ(h.state(), TcpState::time_wait);
}

TEST(Close, ClosingRetransmitsFinUntilAcked) {
  Harness h;
  h.to_closing();
  const Instant t0 = h.now();
  ASSERT_TRUE(h.wait_for_segment(10s));
  Sent fin = h.expect(FIN | ACK, 1, 2);
  EXPECT_EQ(fin.at - t0, 200ms);  // RTO after a zero RTT sample: min_rto
  EXPECT_TRUE(fin.retransmission);
  h.in({.flags = ACK, .seq = 2, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::time_wait);
}

TEST(Close, LastAckRetransmitsFinThenCloses) {
  Harness h;
  h.to_last_ack();
  ASSERT_TRUE(h.wait_for_segment(10s));
  h.expect(FIN | ACK, 1, 2);
  h.in({.flags = ACK, .seq = 2, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::closed);
}

// --- TIME-WAIT (MUST-13) ---

TEST(TimeWait, Must13_LastsExactlyTwoMsl) {
  Harness h;
  h.to_time_wait();
  EXPECT_EQ(h.config().msl, 30s);
  const Instant t0 = h.now();
  EXPECT_EQ(h.conn().next_deadline(), t0 + 60s);
  h.advance(60s - 1us);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
  h.expect_none();
}

TEST(TimeWait, Must13_MslIsConfigurable) {
  TcpConfig c = Harness::default_config();
  c.msl = 5s;
  Harness h(c);
  h.to_time_wait();
  h.advance(10s - 1us);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
}

TEST(TimeWait, Must13_RetransmittedFinIsAckedAndRestartsTimer) {
  Harness h;
  h.to_time_wait();
  h.advance(50s);
  // Our last ACK was lost: the peer sends its FIN again.
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 2});
  h.expect(ACK, 2, 2);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  h.advance(60s - 1us);
  EXPECT_EQ(h.state(), TcpState::time_wait);  // 110 s after entering: still there
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
}

TEST(TimeWait, RetransmittedFinWithDataIsAckedAgain) {
  Harness h;
  h.to_fin_wait_2();
  h.in({.flags = FIN | ACK | PSH, .seq = 1, .ack = 2, .data = "last"});
  h.expect(ACK, 2, 6);
  ASSERT_EQ(h.state(), TcpState::time_wait);
  h.advance(10s);
  h.in({.flags = FIN | ACK | PSH, .seq = 1, .ack = 2, .data = "last"});
  h.expect(ACK, 2, 6);
  EXPECT_EQ(h.conn().next_deadline(), h.now() + 60s);
  EXPECT_EQ(h.receive(), "last");  // delivered once
  EXPECT_EQ(h.receive(), "");
}

TEST(TimeWait, NothingIsSentOnTimerExpiry) {
  Harness h;
  h.to_time_wait();
  EXPECT_FALSE(h.wait_for_segment(1h).has_value());
  EXPECT_EQ(h.state(), TcpState::closed);
}

// --- what the application learns (MUST-12) ---

TEST(Close, Must12_FinIsEndOfStream) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK | PSH | FIN, .seq = 1, .ack = 1, .data = "bye"});
  h.expect(ACK, 1, 5);
  EXPECT_TRUE(h.has_event(EventKind::peer_closed));
  EXPECT_FALSE(h.has_event(EventKind::reset));
  EXPECT_TRUE(h.conn().peer_fin_received());
  EXPECT_EQ(h.receive(), "bye");
  for (int i = 0; i < 2; ++i) {
    auto r = h.conn().receive(buf, h.now());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 0u);
  }
  // The connection is still open for sending.
  h.send("x");
  h.expect(ACK | PSH, 1, 5, 1);
}

TEST(Close, Must12_RstIsResetError) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "partial"});
  h.expect(ACK, 1, 8);
  h.in({.flags = RST, .seq = 8, .ack = 0});
  h.expect_none();
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_FALSE(h.has_event(EventKind::peer_closed));
  auto e = h.last_event(EventKind::reset);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error, Error::reset);
  auto r = h.conn().receive(buf, h.now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::reset);
  auto s = h.conn().send(std::span<const std::uint8_t>(buf, 1), h.now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), Error::reset);
}

// --- SHLD-3: resets instead of FIN ---

TEST(Close, Shld3_CloseWithUnreadDataSendsRst) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "unread"});
  h.expect(ACK, 1, 7);
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  Sent rst = h.out();
  EXPECT_EQ(rst.flags, RST);
  EXPECT_EQ(rst.rel_seq, 1u);  // <SEQ=SND.NXT><CTL=RST>
  EXPECT_EQ(h.state(), TcpState::closed);
}

TEST(Close, Shld3_DataAfterFullCloseGetsRst) {
  for (bool acked : {false, true}) {
    SCOPED_TRACE(acked ? "FIN-WAIT-2" : "FIN-WAIT-1");
    Harness h;
    h.to_established_active();
    ASSERT_EQ(h.conn().close(h.now()), Error::none);
    h.expect(FIN | ACK, 1, 1);
    if (acked) h.in({.flags = ACK, .seq = 1, .ack = 2});
    h.in({.flags = ACK | PSH, .seq = 1, .ack = acked ? 2u : 1u, .data = "late"});
    Sent rst = h.out();
    EXPECT_EQ(rst.flags, RST);
    EXPECT_EQ(rst.rel_seq, 2u);
    EXPECT_EQ(h.state(), TcpState::closed);
  }
}

TEST(Close, DataAfterShutdownWriteIsNotReset) {
  Harness h;
  h.to_established_active();
  ASSERT_EQ(h.conn().shutdown_write(h.now()), Error::none);
  h.expect(FIN | ACK, 1, 1);
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 2, .data = "fine"});
  h.expect(ACK, 2, 5);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
}

TEST(Close, OrphanedFinWait2IsBounded) {
  Harness h;
  h.to_established_active();
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  h.expect(FIN | ACK, 1, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 2});
  ASSERT_EQ(h.state(), TcpState::fin_wait_2);
  h.advance(2 * h.config().msl - 1us);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.advance(1us);
  EXPECT_EQ(h.state(), TcpState::closed);
}

TEST(Close, HalfClosedFinWait2WaitsForThePeer) {
  Harness h;
  h.to_fin_wait_2();  // shutdown_write: the application still reads
  h.advance(1h);
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.expect_none();
}

TEST(Close, CloseInSynSentAndListenDeletesTheTcb) {
  Harness a;
  a.to_syn_sent();
  EXPECT_EQ(a.conn().close(a.now()), Error::none);
  EXPECT_EQ(a.state(), TcpState::closed);
  a.expect_none();
  EXPECT_FALSE(a.wait_for_segment(1h).has_value());  // no SYN retransmissions

  Harness b;
  b.to_listen();
  EXPECT_EQ(b.conn().close(b.now()), Error::none);
  EXPECT_EQ(b.state(), TcpState::closed);
  b.expect_none();
}

TEST(Close, CloseInSynReceivedSendsFin) {
  // Section 3.10.4: no data queued: form a FIN and enter FIN-WAIT-1.
  Harness h;
  h.to_syn_received_passive();
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  h.expect(FIN | ACK, 1, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
}

TEST(Close, CloseInSynReceivedRetransmitsSynAckAndFin) {
  Harness h;
  h.to_syn_received_passive();
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  h.expect(FIN | ACK, 1, 1);
  const Instant t0 = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  Sent sa = h.expect(SYN | ACK, 0, 1);
  EXPECT_EQ(sa.at - t0, 1s);
  h.expect(FIN | ACK, 1, 1);
  h.expect_none();
  h.in({.flags = ACK, .seq = 1, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 2});
  h.expect(ACK, 2, 2);
  EXPECT_EQ(h.state(), TcpState::time_wait);
}

TEST(Close, UnacknowledgedSynAckIsResentInClosingEvenWithAZeroWindow) {
  // Found by the connection fuzzer: closed in SYN-RECEIVED, then the peer's FIN (with an ACK
  // that acknowledges nothing and a zero window) moves the connection to CLOSING while our
  // SYN-ACK is still unacknowledged. The retransmission timer must resend the SYN-ACK, then
  // the FIN; the closed window must not turn it into window probing.
  Harness h;
  h.to_syn_received_passive();
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  h.expect(FIN | ACK, 1, 1);
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 0, .win = 0});
  EXPECT_EQ(h.state(), TcpState::closing);
  h.expect(ACK, 2, 2);
  const Instant t0 = h.now();
  ASSERT_TRUE(h.wait_for_segment());
  Sent sa = h.expect(SYN | ACK, 0, 2);
  EXPECT_EQ(sa.at - t0, 1s);
  h.expect(FIN | ACK, 1, 2);
  h.expect_none();
  EXPECT_NE(h.conn().next_deadline(), kNever);
  // The peer now acknowledges both (with its window open again): TIME-WAIT.
  h.in({.flags = ACK, .seq = 2, .ack = 2});
  EXPECT_EQ(h.state(), TcpState::time_wait);
}

TEST(Close, CloseInSynReceivedWithQueuedDataWaitsForEstablished) {
  // Section 3.10.4: with data queued, the FIN is queued after it for ESTABLISHED.
  Harness h;
  h.to_syn_received_passive();
  h.send("queued");
  ASSERT_EQ(h.conn().shutdown_write(h.now()), Error::none);
  EXPECT_EQ(h.state(), TcpState::syn_received);
  h.expect_none();
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::fin_wait_1);
  EXPECT_TRUE(h.has_event(EventKind::connected));
  h.expect(FIN | ACK | PSH, 1, 1, 6);
  h.in({.flags = ACK, .seq = 1, .ack = 8});
  EXPECT_EQ(h.state(), TcpState::fin_wait_2);
}

TEST(Close, AbortSendsRstAndReportsAborted) {
  Harness h;
  h.to_established_active();
  h.send("pending");
  h.expect(ACK | PSH, 1, 1, 7);
  h.conn().abort(h.now());
  Sent rst = h.out();
  EXPECT_EQ(rst.flags, RST);
  EXPECT_EQ(rst.rel_seq, 8u);
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.last_event(EventKind::closed)->error, Error::aborted);
  EXPECT_EQ(h.conn().next_deadline(), kNever);
}

}  // namespace
}  // namespace synfin::test

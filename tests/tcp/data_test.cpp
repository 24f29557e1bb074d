// Data transfer: segmentation by MSS (MUST-14..16), PSH (MUST-61), Nagle (SHLD-7, MUST-17),
// silly-window avoidance on both sides (MUST-38, MUST-39, SHLD-14), the peer's window read
// as unsigned (MUST-1) and shrinking (MUST-34, SHLD-15..17), out-of-order and overlapping
// segments (SHLD-31), data on SYN and FIN, RST with payload (SHLD-2), a zero receive window
// (MUST-66, MAY-8), and options on any segment (MUST-5, MUST-6, MUST-65).
#include <algorithm>

#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

TEST(Data, SendAcrossSegmentsWithPshOnTheLast_Must61) {
  Harness h;
  h.to_established_active();
  h.send_bytes(5000);
  Sent a = h.expect(ACK, 1, 1, 1460);
  Sent b = h.expect(ACK, 1461, 1, 1460);
  Sent c = h.expect(ACK, 2921, 1, 1460);
  h.expect_none();  // Nagle: the small tail waits while data is unacknowledged
  h.in({.flags = ACK, .seq = 1, .ack = 4381});
  Sent d = h.expect(ACK | PSH, 4381, 1, 620);  // MUST-61: the segment that empties the queue
  h.expect_none();
  EXPECT_EQ(a.text() + b.text() + c.text() + d.text(), Harness::pattern(0, 5000));
  h.in({.flags = ACK, .seq = 1, .ack = 5001});
  EXPECT_EQ(h.conn().info().unacked, 0u);
  EXPECT_EQ(h.conn().info().bytes_acked, 5000u);
}

TEST(Data, DataQueuedInSynSentGoesWithTheHandshakeAck) {
  Harness h;
  h.to_syn_sent();
  h.send("early");
  h.expect_none();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  h.expect(ACK | PSH, 1, 1, 5);  // the ACK of the SYN rides on the data
  h.expect_none();
}

TEST(Data, FullSendBufferThenWritable) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});
  const std::string big(70000, 'b');
  auto r = h.conn().send({reinterpret_cast<const std::uint8_t*>(big.data()), big.size()}, h.now());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, h.config().send_buffer);
  auto again = h.conn().send({reinterpret_cast<const std::uint8_t*>(big.data()), 1}, h.now());
  EXPECT_EQ(again.error(), Error::would_block);
  EXPECT_FALSE(h.has_event(EventKind::writable));
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 10000});
  h.drain();
  h.in({.flags = ACK, .seq = 1, .ack = 1461, .win = 10000});
  EXPECT_EQ(h.count_events(EventKind::writable), 1u);
  EXPECT_EQ(h.conn().send_space(), 1460u);
}

TEST(Data, ReceiveAcrossSegments) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = "hello "});
  h.expect(ACK, 1, 7);
  h.in({.flags = ACK | PSH, .seq = 7, .ack = 1, .data = "world"});
  h.expect(ACK, 1, 12);
  EXPECT_TRUE(h.has_event(EventKind::readable));
  EXPECT_EQ(h.receive(5), "hello");
  EXPECT_EQ(h.receive(), " world");
  std::uint8_t b[8];
  EXPECT_EQ(h.conn().receive(b, h.now()).error(), Error::would_block);
}

TEST(Data, Must14_PeerMssLimitsOurSegments) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .mss = 536});
  h.expect(ACK, 1, 1);
  h.send_bytes(2000);
  for (const Sent& s : h.drain()) {
    EXPECT_LE(s.len(), 536u);
    EXPECT_FALSE(s.options.has_mss);  // MUST-65
  }
}

TEST(Data, Must4_Must6_Must64_UnknownAndUnalignedOptionsOnSyn) {
  Harness h;
  h.to_listen();
  // NOP, unknown kind 253 length 6, MSS 700 at an odd offset, EOL.
  h.in({.flags = SYN, .seq = 0, .ack = 0,
        .raw_options = {1, 253, 6, 0xde, 0xad, 0xbe, 0xef, 2, 4, 0x02, 0xbc, 0, 0, 0, 0, 0}});
  h.expect(SYN | ACK, 0, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  ASSERT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().snd_mss(), 700);
  h.send_bytes(1500);
  h.expect(ACK, 1, 1, 700);
  h.expect(ACK, 701, 1, 700);
  h.in({.flags = ACK, .seq = 1, .ack = 1401});
  h.expect(ACK | PSH, 1401, 1, 100);
}

TEST(Data, Must5_Must6_OptionsOnDataSegmentsAreTolerated) {
  Harness h;
  h.to_established_active();
  // Timestamps (not negotiated), an MSS option (meaningless off a SYN: ignored), an unknown
  // kind: the data is taken and the connection is unaffected.
  wire::TcpOptions o;
  o.has_timestamps = true;
  o.ts_val = 12345;
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "one", .options = o});
  h.expect(ACK, 1, 4);
  h.in({.flags = ACK | PSH, .seq = 4, .ack = 1, .data = "two", .mss = 100});
  h.expect(ACK, 1, 7);
  EXPECT_EQ(h.conn().snd_mss(), 1460);
  h.in({.flags = ACK | PSH, .seq = 7, .ack = 1, .data = "three",
        .raw_options = {254, 4, 0x12, 0x34, 1, 1, 1, 0}});
  h.expect(ACK, 1, 12);
  EXPECT_EQ(h.receive(), "onetwothree");
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(Data, Must65_MssOnlyOnSyn) {
  // A whole connection: SYN-ACK, data, ACKs, a retransmission, FIN. Only the SYN-ACK may
  // carry MSS (the harness also fails any test that emits MSS on a non-SYN segment).
  Harness h;
  std::vector<Sent> all;
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.send_bytes(3000);
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 1461, .data = "x"});
  EXPECT_EQ(h.receive(), "x");
  for (const Sent& s : h.drain()) all.push_back(s);
  ASSERT_TRUE(h.wait_for_segment());  // a retransmission
  for (const Sent& s : h.drain()) all.push_back(s);
  h.in({.flags = ACK, .seq = 2, .ack = 2921});
  h.in({.flags = ACK, .seq = 2, .ack = 3001});
  ASSERT_EQ(h.conn().close(h.now()), Error::none);
  h.in({.flags = FIN | ACK, .seq = 2, .ack = 3002});
  for (const Sent& s : h.drain()) all.push_back(s);
  EXPECT_EQ(h.state(), TcpState::time_wait);
  ASSERT_GE(all.size(), 6u);
  for (const Sent& s : all) EXPECT_EQ(s.options.has_mss, s.has(SYN)) << s.str();
}

// --- Nagle (RFC 896, RFC 9293 section 3.7.4) ---

TEST(Data, Shld7_NagleHoldsSmallSegmentWhileDataIsUnacked) {
  Harness h;
  h.to_established_active();
  h.send("a");
  h.expect(ACK | PSH, 1, 1, 1);  // nothing in flight: goes at once
  h.send("b");
  h.send("c");
  h.expect_none();  // held while "a" is unacknowledged
  h.in({.flags = ACK, .seq = 1, .ack = 2});
  Sent s = h.expect(ACK | PSH, 2, 1, 2);  // SHLD-27, MAY-16: merged, one PSH
  EXPECT_EQ(s.text(), "bc");
}

TEST(Data, Shld7_NagleSendsFullSegmentsWhileDataIsUnacked) {
  Harness h;
  h.to_established_active();
  h.send("a");
  h.expect(ACK | PSH, 1, 1, 1);
  h.send_bytes(1460 + 10);
  h.expect(ACK, 2, 1, 1460);  // a full-sized segment is never held (SHLD-28)
  h.expect_none();            // the 10-byte tail is
}

TEST(Data, Must17_NoDelaySendsAtOnce) {
  Harness h;
  h.to_established_active();
  h.conn().set_no_delay(true, h.now());
  h.send("a");
  h.expect(ACK | PSH, 1, 1, 1);
  h.send("b");
  h.expect(ACK | PSH, 2, 1, 1);
}

TEST(Data, Must17_SetNoDelayReleasesHeldData) {
  Harness h;
  h.to_established_active();
  h.send("a");
  h.expect(ACK | PSH, 1, 1, 1);
  h.send("b");
  h.expect_none();
  h.conn().set_no_delay(true, h.now());
  h.expect(ACK | PSH, 2, 1, 1);
}

// --- sender silly-window avoidance (MUST-38) ---

TEST(Data, Must38_SenderWaitsForAUsefulWindow) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 10000, .mss = 1460});
  h.expect(ACK, 1, 1);
  h.send_bytes(20000);
  std::uint32_t sent = 0;
  for (const Sent& s : h.drain()) sent += s.len();
  EXPECT_EQ(sent, 8760u);  // six full segments fit in the 10000-byte window
  // Everything is acknowledged, but the window offered is 10 bytes.
  h.in({.flags = ACK, .seq = 1, .ack = 8761, .win = 10});
  h.expect_none();
  h.in({.flags = ACK, .seq = 1, .ack = 8761, .win = 1000});
  h.expect_none();  // still less than an MSS and less than half the largest window
  h.in({.flags = ACK, .seq = 1, .ack = 8761, .win = 1460});
  h.expect(ACK, 8761, 1, 1460);  // a full segment
}

TEST(Data, Must38_HalfTheLargestWindowIsEnough) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 1000, .mss = 1460});
  h.expect(ACK, 1, 1);
  h.send_bytes(5000);
  h.expect(ACK, 1, 1, 1000);  // the whole window, though less than an MSS
  h.in({.flags = ACK, .seq = 1, .ack = 1001, .win = 499});
  h.expect_none();
  h.in({.flags = ACK, .seq = 1, .ack = 1001, .win = 500});
  h.expect(ACK, 1001, 1, 500);  // Fs * max window, Fs = 1/2
}

TEST(Data, Must38_OverrideTimerSendsWhatTheWindowAllows) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 10000, .mss = 1460});
  h.expect(ACK, 1, 1);
  h.send_bytes(9000);
  h.drain();
  h.in({.flags = ACK, .seq = 1, .ack = 8761, .win = 100});
  h.expect_none();
  const Instant held = h.now();
  ASSERT_TRUE(h.wait_for_segment(5s));
  Sent s = h.expect(ACK, 8761, 1, 100);
  EXPECT_EQ(s.at - held, h.config().sws_override);  // 200 ms, within 0.1 to 1 s
}

// --- receiver silly-window avoidance (MUST-39, SHLD-14, MAY-8) ---

TEST(Data, Must39_RightEdgeMovesOnlyByMinHalfBufferOrMss) {
  TcpConfig c = Harness::default_config();
  c.recv_buffer = 4000;
  Harness h(c);
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  EXPECT_EQ(h.expect(SYN | ACK, 0, 1).window, 4000);
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = std::string(1460, 'a')});
  EXPECT_EQ(h.expect(ACK, 1, 1461).window, 2540);
  h.in({.flags = ACK, .seq = 1461, .ack = 1, .data = std::string(1460, 'b')});
  EXPECT_EQ(h.expect(ACK, 1, 2921).window, 1080);
  h.in({.flags = ACK, .seq = 2921, .ack = 1, .data = std::string(1080, 'c')});
  EXPECT_EQ(h.expect(ACK, 1, 4001).window, 0);
  // The application reads one byte at a time: no window update until min(4000/2, 1460)
  // bytes are free; a probe meanwhile sees the window still closed (MAY-8).
  for (int i = 0; i < 1459; ++i) {
    ASSERT_EQ(h.receive(1).size(), 1u);
    if (i == 700) {
      h.in({.flags = ACK, .seq = 4001, .ack = 1, .data = "p"});
      EXPECT_EQ(h.expect(ACK, 1, 4001).window, 0);
    }
  }
  h.expect_none();
  ASSERT_EQ(h.receive(1).size(), 1u);
  EXPECT_EQ(h.expect(ACK, 1, 4001).window, 1460);
}

TEST(Data, Shld14_RightEdgeNeverMovesLeft) {
  TcpConfig c = Harness::default_config();
  c.recv_buffer = 5000;
  Harness h(c);
  h.to_established_passive();
  std::uint32_t next = 1;       // the peer's next sequence number
  std::uint32_t edge = 1 + 5000;  // the right edge we last announced
  std::string got;
  for (int round = 0; round < 200; ++round) {
    if (next < edge) {
      const std::uint32_t n = std::min<std::uint32_t>(1460, edge - next);
      h.in({.flags = ACK, .seq = next, .ack = 1, .data = Harness::pattern(next - 1, n)});
      next += n;
    }
    got += h.receive(round % 3 == 0 ? 700 : 300);
    for (const Sent& s : h.drain()) {
      const std::uint32_t e = s.rel_ack + s.window;
      EXPECT_GE(e, edge) << "the right edge moved left: " << s.str();
      edge = std::max(edge, e);
    }
  }
  got += h.receive();
  EXPECT_GT(got.size(), 50000u);
  EXPECT_EQ(got, Harness::pattern(0, next - 1));
}

// --- the peer's window (MUST-1, MUST-34, SHLD-15..17) ---

// Slow start until the congestion window is no longer the limit, then the flight size
// shows the window the peer offered.
std::uint32_t flight_with_window(std::uint16_t win) {
  TcpConfig c = Harness::default_config();
  c.send_buffer = 1 << 20;
  Harness h(c);
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = win, .mss = 1460});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.conn().snd_wnd(), win);
  h.send_bytes(600000);
  for (int round = 0; round < 5; ++round) {
    for (const Sent& s : h.drain()) {
      h.in({.flags = ACK, .seq = 1, .ack = s.rel_seq + s.len(), .win = win});
    }
  }
  EXPECT_GT(h.conn().info().cwnd, static_cast<std::uint32_t>(win));
  h.drain();
  return h.conn().info().unacked;
}

TEST(Data, Must1_WindowIsUnsigned) {
  const std::uint32_t f1 = flight_with_window(0xffff);
  EXPECT_LE(f1, 65535u);
  EXPECT_GT(f1, 65535u - 1460u);
  const std::uint32_t f2 = flight_with_window(0x8000);
  EXPECT_LE(f2, 32768u);
  EXPECT_GT(f2, 32768u - 1460u);
}

TEST(Data, Must34_Shld15_Shld16_PeerShrinksItsWindow) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 10000, .mss = 1460});
  h.expect(ACK, 1, 1);
  h.conn().set_no_delay(true, h.now());
  h.send_bytes(4000);
  EXPECT_EQ(h.drain().size(), 3u);
  // The right edge moves left, below SND.NXT: 1461 + 500 < 4001.
  h.in({.flags = ACK, .seq = 1, .ack = 1461, .win = 500});
  h.expect_none();
  h.send_bytes(1000);
  h.expect_none();  // SHLD-15: nothing new
  // SHLD-16: the unacknowledged data inside the shrunk window is retransmitted normally.
  ASSERT_TRUE(h.wait_for_segment());
  Sent r = h.expect(ACK, 1461, 1, 500);
  EXPECT_TRUE(r.retransmission);
  EXPECT_EQ(r.text(), Harness::pattern(1460, 500));
  // The window opens again: the rest follows, in order, once.
  std::uint32_t next = 1961;
  h.in({.flags = ACK, .seq = 1, .ack = next, .win = 10000});
  for (int round = 0; round < 5 && next < 5001; ++round) {
    for (const Sent& s : h.drain()) {
      EXPECT_EQ(s.rel_seq, next);
      EXPECT_EQ(s.text(), Harness::pattern(next - 1, s.len()));
      next += s.len();
    }
    h.in({.flags = ACK, .seq = 1, .ack = next, .win = 10000});
  }
  EXPECT_EQ(next, 5001u);
  EXPECT_EQ(h.state(), TcpState::established);
}

// --- reassembly (SHLD-31) ---

TEST(Data, Shld31_OutOfOrderSegmentsKeptAndMerged) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = ACK, .seq = 11, .ack = 1, .data = "klmnopqrst"});
  h.expect(ACK, 1, 1);
  h.in({.flags = ACK, .seq = 31, .ack = 1, .data = "EFGH"});
  h.expect(ACK, 1, 1);
  h.in({.flags = ACK, .seq = 21, .ack = 1, .data = "uvwxyzABCD"});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.receive(), "");
  EXPECT_EQ(h.conn().info().out_of_order_segments, 3u);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = "abcdefghij"});
  h.expect(ACK, 1, 35);  // one cumulative ACK
  h.expect_none();
  EXPECT_EQ(h.receive(), "abcdefghijklmnopqrstuvwxyzABCDEFGH");
}

TEST(Data, OverlappingAndDuplicateDataIsTrimmed) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = "abcdef"});
  h.expect(ACK, 1, 7);
  h.in({.flags = ACK, .seq = 4, .ack = 1, .data = "defghi"});  // straddles RCV.NXT
  h.expect(ACK, 1, 10);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = "abc"});  // wholly old
  h.expect(ACK, 1, 10);
  // Out of order, overlapping each other and then the hole.
  h.in({.flags = ACK, .seq = 14, .ack = 1, .data = "mnop"});
  h.expect(ACK, 1, 10);
  h.in({.flags = ACK, .seq = 12, .ack = 1, .data = "klmn"});
  h.expect(ACK, 1, 10);
  h.in({.flags = ACK, .seq = 14, .ack = 1, .data = "mnop"});  // duplicate out of order
  h.expect(ACK, 1, 10);
  h.in({.flags = ACK, .seq = 8, .ack = 1, .data = "hijklmnopqr"});  // covers all
  h.expect(ACK, 1, 19);
  EXPECT_EQ(h.receive(), "abcdefghijklmnopqr");
  EXPECT_EQ(h.conn().info().bytes_received, 18u);
}

TEST(Data, SegmentStraddlingTheWholeWindowKeepsItsNewPart) {
  // Starts before RCV.NXT and ends past the right edge: neither test of table 6 holds for
  // its ends, yet its middle is exactly the new data the window admits (section 3.10.7.4:
  // "only the new parts are processed").
  TcpConfig c = Harness::default_config();
  c.recv_buffer = 1000;
  Harness h(c);
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  h.expect(SYN | ACK, 0, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = Harness::pattern(0, 500)});
  EXPECT_EQ(h.expect(ACK, 1, 501).window, 500);
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = Harness::pattern(0, 1460)});
  EXPECT_EQ(h.expect(ACK, 1, 1001).window, 0);
  EXPECT_EQ(h.receive(), Harness::pattern(0, 1000));
}

TEST(Data, FinAfterAHoleWaitsForTheData) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = FIN | ACK, .seq = 6, .ack = 1, .data = "world"});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_FALSE(h.has_event(EventKind::peer_closed));
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = "hello"});
  h.expect(ACK, 1, 12);  // data and the FIN
  EXPECT_EQ(h.state(), TcpState::close_wait);
  EXPECT_EQ(h.receive(), "helloworld");
  EXPECT_TRUE(h.has_event(EventKind::peer_closed));
}

// --- data on SYN and FIN ---

TEST(Data, DataWithSynAndFinOnPassiveOpen) {
  Harness h;
  h.to_listen();
  h.in({.flags = SYN | FIN, .seq = 0, .ack = 0, .data = "all"});
  // RFC 9293 section 3.10.7.2: text and FIN on a SYN are queued, and acknowledged only
  // once the handshake completes.
  h.expect(SYN | ACK, 0, 1);
  h.in({.flags = ACK, .seq = 5, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::close_wait);
  h.expect(ACK, 1, 5);
  EXPECT_EQ(h.receive(), "all");
  EXPECT_TRUE(h.has_event(EventKind::peer_closed));
}

TEST(Data, DataWithFin) {
  Harness h;
  h.to_established_passive();
  h.in({.flags = FIN | ACK | PSH, .seq = 1, .ack = 1, .data = "last words"});
  h.expect(ACK, 1, 12);
  EXPECT_EQ(h.receive(), "last words");
  EXPECT_EQ(h.state(), TcpState::close_wait);
}

// --- RST with payload (SHLD-2) ---

TEST(Data, Shld2_RstWithPayloadIsAccepted) {
  Harness h;
  h.to_established_active();
  h.in({.flags = RST | ACK, .seq = 1, .ack = 1, .data = "diagnostic text: reset"});
  h.expect_none();
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.last_event(EventKind::reset)->error, Error::reset);
}

TEST(Data, RstWithPayloadInWindowButNotExactGetsChallengeAck) {
  Harness h;
  h.to_established_active();
  h.in({.flags = RST, .seq = 5, .ack = 0, .data = "payload"});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(Data, RstJudgedBySequenceNumberAlone) {
  // RFC 5961 section 3.2: an RST whose sequence number is outside the window is dropped
  // silently, even when its payload reaches into the window.
  Harness h;
  h.to_established_active();
  h.in({.flags = RST, .seq = 0xfffffff0u, .ack = 0, .data = std::string(40, 'r')});
  h.expect_none();
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_EQ(h.conn().info().challenge_acks, 0u);
}

// --- a zero receive window (MUST-66) ---

void fill_receive_window(Harness& h) {
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  EXPECT_EQ(h.expect(SYN | ACK, 0, 1).window, 1000);
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  h.in({.flags = ACK, .seq = 1, .ack = 1, .data = std::string(1000, 'z')});
  EXPECT_EQ(h.expect(ACK, 1, 1001).window, 0);
  h.clear_events();
}

TcpConfig small_buffer() {
  TcpConfig c = Harness::default_config();
  c.recv_buffer = 1000;
  return c;
}

TEST(Data, Must66_RstProcessedWithZeroWindow) {
  Harness h(small_buffer());
  fill_receive_window(h);
  h.in({.flags = RST, .seq = 1002, .ack = 0});  // not RCV.NXT: silently dropped
  h.expect_none();
  h.in({.flags = RST, .seq = 1001, .ack = 0});
  EXPECT_EQ(h.state(), TcpState::closed);
  EXPECT_EQ(h.last_event(EventKind::reset)->error, Error::reset);
}

TEST(Data, Must66_UrgProcessedWithZeroWindow) {
  Harness h(small_buffer());
  fill_receive_window(h);
  h.in({.flags = ACK | URG, .seq = 1001, .ack = 1, .urg = 5});
  h.expect_none();
  EXPECT_TRUE(h.has_event(EventKind::urgent));
  EXPECT_EQ(h.conn().urgent_pending(), 1005u);
}

TEST(Data, Must66_AckProcessedWithZeroWindow) {
  Harness h(small_buffer());
  fill_receive_window(h);
  h.send("reply");
  h.expect(ACK | PSH, 1, 1001, 5);
  h.in({.flags = ACK, .seq = 1001, .ack = 6});
  EXPECT_EQ(h.conn().info().unacked, 0u);
}

TEST(Data, May8_DataAtZeroWindowIsDroppedAndAcked) {
  Harness h(small_buffer());
  fill_receive_window(h);
  h.in({.flags = ACK | PSH, .seq = 1001, .ack = 1, .data = "more"});
  Sent a = h.expect(ACK, 1, 1001);
  EXPECT_EQ(a.window, 0);
  EXPECT_EQ(h.receive().size(), 1000u);
  EXPECT_EQ(h.receive(), "");
}

}  // namespace
}  // namespace synfin::test

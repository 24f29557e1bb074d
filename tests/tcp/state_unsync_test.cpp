// The states without a synchronized receive window: CLOSED (RFC 9293 section 3.10.7.1),
// LISTEN (3.10.7.2) and SYN-SENT (3.10.7.3). Each segment kind is injected once and the
// exact answer asserted.
#include <fmt/format.h>

#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

// --- CLOSED: <SEQ=SEG.ACK><CTL=RST> if the ACK bit is on, else
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; never a reset for a reset. ---

struct ClosedCase {
  const char* name;
  In in;
  bool answered;
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;  // absolute
  std::uint32_t ack = 0;  // relative to the peer's ISN
};

TEST(StateClosed, EverySegmentKindGetsTheSection3_10_7_1Reset) {
  const ClosedCase cases[] = {
      {"SYN", {.flags = SYN, .seq = 0, .ack = 0}, true, RST | ACK, 0, 1},
      {"SYN with data", {.flags = SYN, .seq = 0, .ack = 0, .data = "abc"}, true, RST | ACK, 0, 4},
      {"SYN-ACK", {.flags = SYN | ACK, .seq = 0, .ack = 77}, true, RST, 77, 0},
      {"ACK", {.flags = ACK, .seq = 5, .ack = 1234}, true, RST, 1234, 0},
      {"data-ACK", {.flags = ACK | PSH, .seq = 5, .ack = 99, .data = "hello"}, true, RST, 99, 0},
      {"data without ACK", {.flags = PSH, .seq = 5, .ack = 0, .data = "hello"}, true, RST | ACK, 0, 10},
      {"FIN without ACK", {.flags = FIN, .seq = 7, .ack = 0}, true, RST | ACK, 0, 8},
      {"FIN-ACK", {.flags = FIN | ACK, .seq = 7, .ack = 3}, true, RST, 3, 0},
      {"RST", {.flags = RST, .seq = 7, .ack = 0}, false},
      {"RST-ACK", {.flags = RST | ACK, .seq = 7, .ack = 3}, false},
  };
  for (const ClosedCase& c : cases) {
    SCOPED_TRACE(c.name);
    Harness h;  // a connection that was never opened: CLOSED, ISS 0
    ASSERT_EQ(h.state(), TcpState::closed);
    h.in(c.in);
    if (!c.answered) {
      h.expect_none();
      continue;
    }
    Sent r = h.out();
    EXPECT_EQ(wire::flags_to_string(r.flags), wire::flags_to_string(c.flags));
    EXPECT_EQ(r.seq, Seq{c.seq});
    if (c.flags & ACK) {
      EXPECT_EQ(r.rel_ack, c.ack);
    }
    EXPECT_EQ(r.len(), 0u);
    EXPECT_EQ(h.state(), TcpState::closed);
    EXPECT_TRUE(h.events_empty());
  }
}

TEST(StateClosed, AfterOrderlyCloseSegmentsGetReset) {
  Harness h;
  h.to_last_ack();
  h.in({.flags = ACK, .seq = 2, .ack = 2});
  ASSERT_EQ(h.state(), TcpState::closed);
  h.expect_none();
  // A late retransmission of the peer's FIN reaches a connection that is gone.
  h.in({.flags = FIN | ACK, .seq = 1, .ack = 2});
  Sent r = h.out();
  EXPECT_EQ(r.flags, RST);
  EXPECT_EQ(r.rel_seq, 2u);
}

// --- LISTEN ---

TEST(StateListen, RstIsIgnored) {
  for (std::uint8_t f : {RST, static_cast<std::uint8_t>(RST | ACK)}) {
    Harness h;
    h.to_listen();
    h.in({.flags = f, .seq = 10, .ack = 10});
    h.expect_none();
    EXPECT_EQ(h.state(), TcpState::listen);
  }
}

TEST(StateListen, AnyAckBearingSegmentGetsResetSeqSegAck) {
  const In cases[] = {
      {.flags = ACK, .seq = 10, .ack = 500},
      {.flags = SYN | ACK, .seq = 10, .ack = 500},
      {.flags = ACK | PSH, .seq = 10, .ack = 500, .data = "data"},
      {.flags = FIN | ACK, .seq = 10, .ack = 500},
  };
  for (const In& in : cases) {
    SCOPED_TRACE(wire::flags_to_string(in.flags));
    Harness h;
    h.to_listen();
    h.in(in);
    Sent r = h.out();
    EXPECT_EQ(r.flags, RST);
    EXPECT_EQ(r.seq, h.iss() + 500);  // <SEQ=SEG.ACK><CTL=RST>
    EXPECT_EQ(h.state(), TcpState::listen);
  }
}

TEST(StateListen, SegmentWithoutSynOrAckIsDropped) {
  for (std::uint8_t f : {FIN, PSH, static_cast<std::uint8_t>(0)}) {
    Harness h;
    h.to_listen();
    h.in({.flags = f, .seq = 10, .ack = 0, .data = f == PSH ? "x" : ""});
    h.expect_none();
    EXPECT_EQ(h.state(), TcpState::listen);
  }
}

TEST(StateListen, SynStartsHandshake) {
  Harness h;
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .win = 1000, .mss = 1000});
  Sent sa = h.expect(SYN | ACK, 0, 1);
  EXPECT_TRUE(sa.options.has_mss);
  EXPECT_EQ(h.state(), TcpState::syn_received);
  EXPECT_EQ(h.conn().snd_wnd(), 1000u);
  EXPECT_TRUE(h.conn().passive_open());
}

// --- SYN-SENT ---

TEST(StateSynSent, SynWithoutAckIsSimultaneousOpen) {  // MUST-10
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN, .seq = 0, .ack = 0});
  h.expect(SYN | ACK, 0, 1);  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
  EXPECT_EQ(h.state(), TcpState::syn_received);
  EXPECT_FALSE(h.conn().passive_open());
}

TEST(StateSynSent, AcceptableSynAckEstablishes) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  h.expect(ACK, 1, 1);  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
  EXPECT_EQ(h.state(), TcpState::established);
}

TEST(StateSynSent, UnacceptableAckGetsResetUnlessRst) {
  struct Case {
    std::uint8_t flags;
    std::uint32_t ack;  // relative to ISS: 0 is SEG.ACK =< ISS, 2 is SEG.ACK > SND.NXT
    bool reset;
  };
  const Case cases[] = {
      {ACK, 0, true},       {ACK, 2, true},       {SYN | ACK, 0, true},
      {SYN | ACK, 2, true}, {FIN | ACK, 2, true}, {RST | ACK, 0, false},
      {RST | ACK, 2, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("{} ack {}", wire::flags_to_string(c.flags), c.ack));
    Harness h;
    h.to_syn_sent();
    h.in({.flags = c.flags, .seq = 0, .ack = c.ack});
    if (c.reset) {
      Sent r = h.out();
      EXPECT_EQ(r.flags, RST);
      EXPECT_EQ(r.rel_seq, c.ack);  // <SEQ=SEG.ACK><CTL=RST>
    } else {
      h.expect_none();
    }
    EXPECT_EQ(h.state(), TcpState::syn_sent);
  }
}

TEST(StateSynSent, AcceptableAckWithoutSynIsDropped) {
  // Fifth: neither SYN nor RST: drop. Also with data or FIN.
  const In cases[] = {
      {.flags = ACK, .seq = 0, .ack = 1},
      {.flags = ACK | PSH, .seq = 1, .ack = 1, .data = "early"},
      {.flags = FIN | ACK, .seq = 1, .ack = 1},
  };
  for (const In& in : cases) {
    Harness h;
    h.to_syn_sent();
    h.in(in);
    h.expect_none();
    EXPECT_EQ(h.state(), TcpState::syn_sent);
  }
}

TEST(StateSynSent, RstWithAcceptableAckRefuses) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = RST | ACK, .seq = 0, .ack = 1});
  h.expect_none();
  EXPECT_EQ(h.state(), TcpState::closed);
  auto e = h.last_event(EventKind::reset);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error, Error::refused);
  EXPECT_EQ(h.conn().error(), Error::refused);
  // connect() fails: send and receive report it.
  std::uint8_t buf[4];
  auto r = h.conn().receive(buf, h.now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::refused);
}

TEST(StateSynSent, RstWithoutAckIsIgnored) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = RST, .seq = 0, .ack = 0});
  h.expect_none();
  EXPECT_EQ(h.state(), TcpState::syn_sent);
  EXPECT_TRUE(h.events_empty());
}

TEST(StateSynSent, SynAckWithFinEntersCloseWait) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK | FIN, .seq = 0, .ack = 1, .data = "bye"});
  h.expect(ACK, 1, 5);  // SYN + 3 bytes + FIN
  EXPECT_EQ(h.state(), TcpState::close_wait);
  EXPECT_EQ(h.receive(), "bye");
  EXPECT_EQ(h.receive(), "");
  EXPECT_TRUE(h.has_event(EventKind::peer_closed));
}

}  // namespace
}  // namespace synfin::test

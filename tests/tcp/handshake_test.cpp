// The three-way handshake (RFC 9293 section 3.5): active, passive, simultaneous open, the old
// duplicate SYN, MSS negotiation.
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

TEST(Handshake, ActiveOpenExactSegments) {
  Harness h;
  ASSERT_EQ(h.conn().open_active(h.now()), Error::none);
  Sent syn = h.out();
  EXPECT_EQ(syn.flags, SYN);
  EXPECT_EQ(syn.seq, h.iss());
  EXPECT_TRUE(syn.options.has_mss);
  EXPECT_EQ(syn.options.mss, 1460);  // MUST-14, MUST-67: MTU 1500 - 40
  EXPECT_EQ(syn.window, 65535);
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .mss = 1000});
  EXPECT_EQ(h.state(), TcpState::established);
  Sent ack = h.expect(ACK, 1, 1);
  EXPECT_FALSE(ack.options.has_mss);  // MUST-65
  EXPECT_TRUE(h.has_event(EventKind::connected));
  EXPECT_EQ(h.conn().snd_mss(), 1000);
}

TEST(Handshake, PassiveOpenExactSegments) {
  Harness h;
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1200});
  EXPECT_EQ(h.state(), TcpState::syn_received);
  Sent sa = h.expect(SYN | ACK, 0, 1);
  EXPECT_EQ(sa.options.mss, 1460);
  EXPECT_FALSE(h.has_event(EventKind::connected));
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect_none();
  EXPECT_TRUE(h.has_event(EventKind::connected));
  EXPECT_EQ(h.conn().snd_mss(), 1200);
}

TEST(Handshake, SimultaneousOpen) {  // MUST-10
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .mss = 1460});
  EXPECT_EQ(h.state(), TcpState::syn_received);
  h.expect(SYN | ACK, 0, 1);  // our ISS again, acknowledging theirs
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  // Their SYN-ACK repeats the SYN (old) and acknowledges ours: acceptable, ESTABLISHED.
  // The repeated SYN lies before RCV.NXT, so it is answered with an ACK.
  EXPECT_EQ(h.state(), TcpState::established);
  EXPECT_TRUE(h.has_event(EventKind::connected));
  EXPECT_FALSE(h.conn().passive_open());
}

TEST(Handshake, SimultaneousOpenCompletedByPlainAck) {
  Harness h;
  h.to_syn_received_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect_none();
}

TEST(Handshake, OldDuplicateSynAckGetsResetAndNoConnection) {
  // RFC 9293 figure 9: a SYN-ACK acknowledging something we never sent.
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 999});
  Sent rst = h.out();
  EXPECT_EQ(rst.flags, RST);
  EXPECT_EQ(rst.seq, h.iss() + 999);  // <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(h.state(), TcpState::syn_sent);
  EXPECT_FALSE(h.has_event(EventKind::connected));
  // The real SYN-ACK then completes the handshake.
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect(ACK, 1, 1);
}

TEST(Handshake, SynAckAcknowledgingIssItselfIsReset) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 0});  // SEG.ACK =< ISS
  Sent rst = h.out();
  EXPECT_EQ(rst.flags, RST);
  EXPECT_EQ(h.state(), TcpState::syn_sent);
}

TEST(Handshake, PeerWithoutMssOptionGets536) {  // MUST-15
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.conn().snd_mss(), 536);
  h.send(std::string(2000, 'x'));
  for (const Sent& s : h.drain()) EXPECT_LE(s.len(), 536u);
}

TEST(Handshake, EffectiveMssIsBoundedByOurMtu) {  // MUST-16
  TcpConfig c = Harness::default_config();
  c.mtu = 1280;
  Harness h(c);
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .mss = 1460});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.conn().snd_mss(), 1240);
}

TEST(Handshake, RstInSynReceivedFromListenReturnsToListen) {  // MUST-11
  Harness h;
  h.to_syn_received_passive();
  h.in({.flags = RST, .seq = 1, .ack = 0});
  EXPECT_EQ(h.state(), TcpState::listen);
  h.expect_none();
  // And the listener answers a new SYN.
  h.in({.flags = SYN, .seq = 5000, .ack = 0});
  EXPECT_EQ(h.state(), TcpState::syn_received);
  h.expect(SYN | ACK, 0, 5001);
}

TEST(Handshake, RstInSynReceivedFromSynSentIsRefused) {  // MUST-11
  Harness h;
  h.to_syn_received_active();
  h.in({.flags = RST, .seq = 1, .ack = 0});
  EXPECT_EQ(h.state(), TcpState::closed);
  auto e = h.last_event(EventKind::reset);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->error, Error::refused);
}

TEST(Handshake, RstAckInSynSentIsRefused) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = RST | ACK, .seq = 0, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::closed);
  h.expect_none();
  EXPECT_EQ(h.conn().error(), Error::refused);
}

TEST(Handshake, RstWithoutAckInSynSentIsIgnored) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = RST, .seq = 0, .ack = 0});
  EXPECT_EQ(h.state(), TcpState::syn_sent);
  h.expect_none();
}

TEST(Handshake, DataOnSynAckIsDelivered) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .data = "early"});
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect(ACK, 1, 6);
  EXPECT_EQ(h.receive(), "early");
}

TEST(Handshake, DataOnSynIsDeliveredAfterEstablishment) {
  // RFC 9293 section 3.10.7.2: the SYN-ACK acknowledges only the SYN; the text is queued
  // and processed (delivered and acknowledged) once the connection is established.
  Harness h;
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .data = "hello"});
  h.expect(SYN | ACK, 0, 1);
  EXPECT_EQ(h.receive(), "");  // not before the handshake completes
  h.in({.flags = ACK, .seq = 6, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect(ACK, 1, 6);
  EXPECT_EQ(h.receive(), "hello");
}

// The same in a simultaneous open (section 3.10.7.3, SYN-SENT: "queue them for processing
// after the ESTABLISHED state has been reached"), and the two cases have a knob each: the
// FreeBSD profile drops data on a SYN to a listener but keeps it on a SYN in SYN-SENT.
TEST(Handshake, DataOnSynInSynSentIsDeliveredAfterEstablishment) {
  for (bool keep : {true, false}) {
    SCOPED_TRACE(keep ? "kept" : "dropped");
    TcpConfig cfg = Harness::default_config();
    cfg.accept_syn_data = false;  // a listener's choice: no effect here
    cfg.accept_syn_data_in_syn_sent = keep;
    Harness h(cfg);
    h.to_syn_sent();
    h.in({.flags = SYN, .seq = 0, .ack = 0, .data = "abc"});
    h.expect(SYN | ACK, 0, 1);  // the SYN only
    EXPECT_EQ(h.receive(), "");
    h.in({.flags = ACK, .seq = keep ? 4u : 1u, .ack = 1});
    EXPECT_EQ(h.state(), TcpState::established);
    if (keep) {
      h.expect(ACK, 1, 4);
      EXPECT_EQ(h.receive(), "abc");
    } else {
      h.expect_none();
      EXPECT_EQ(h.receive(), "");
    }
  }
}

TEST(Handshake, DataOnSynToAListenerIsDroppedWhenNotAccepted) {
  TcpConfig cfg = Harness::default_config();
  cfg.accept_syn_data = false;
  cfg.accept_syn_data_in_syn_sent = true;  // a simultaneous open's choice: no effect here
  Harness h(cfg);
  h.to_listen();
  h.in({.flags = SYN, .seq = 0, .ack = 0, .data = "hello"});
  h.expect(SYN | ACK, 0, 1);
  h.in({.flags = ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), TcpState::established);
  h.expect_none();
  EXPECT_EQ(h.receive(), "");  // left for the peer to send again
}

TEST(Handshake, RetransmittedSynInSynReceivedResendsSynAck) {
  Harness h;
  h.to_syn_received_passive();
  h.in({.flags = SYN, .seq = 0, .ack = 0});
  h.expect(SYN | ACK, 0, 1);
  EXPECT_EQ(h.state(), TcpState::syn_received);
}

TEST(Handshake, BadAckInSynReceivedGetsReset) {
  Harness h;
  h.to_syn_received_passive();
  h.in({.flags = ACK, .seq = 1, .ack = 77});
  Sent rst = h.out();
  EXPECT_EQ(rst.flags, RST);
  EXPECT_EQ(rst.seq, h.iss() + 77);
  EXPECT_EQ(h.state(), TcpState::syn_received);
}

}  // namespace
}  // namespace synfin::test

// Urgent data (RFC 9293 section 3.8.5, MUST-30..33, MUST-62): the urgent pointer marks the
// octet following the urgent data, may reach beyond the segment, and is announced to the
// application once per new or advanced pointer.
#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

Result<std::uint32_t, Error> send_urgent(Harness& h, std::string_view s) {
  return h.conn().send_urgent({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()},
                              h.now());
}

TEST(Urgent, Must30_Must62_PointerMarksTheOctetAfterTheUrgentData) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 0});  // hold everything back for a moment
  h.send("0123456789");
  ASSERT_TRUE(send_urgent(h, "!").ok());
  h.in({.flags = ACK, .seq = 1, .ack = 1, .win = 1000});
  Sent s = h.expect(ACK | PSH | URG, 1, 1, 11);
  EXPECT_EQ(s.urgent, 11);  // SEG.SEQ + 11: the octet after "!"
  EXPECT_EQ(s.text(), "0123456789!");
}

TEST(Urgent, Must30_SingleUrgentByte) {
  Harness h;
  h.to_established_active();
  ASSERT_TRUE(send_urgent(h, "U").ok());
  Sent s = h.expect(ACK | PSH | URG, 1, 1, 1);
  EXPECT_EQ(s.urgent, 1);
}

TEST(Urgent, Must31_UrgentDataAcrossSegments) {
  Harness h;
  h.to_established_active();
  h.conn().set_no_delay(true, h.now());
  std::string big(5000, 'u');
  ASSERT_EQ(*send_urgent(h, big), 5000u);
  // Every segment carries URG and a pointer to the same octet, 5001, beyond it.
  const std::uint32_t seqs[] = {1, 1461, 2921, 4381};
  for (std::uint32_t seq : seqs) {
    Sent s = h.next();
    EXPECT_TRUE(s.has(URG)) << s.str();
    EXPECT_EQ(s.rel_seq, seq);
    EXPECT_EQ(s.urgent, 5001 - seq);
  }
  h.expect_none();
  // Data after the urgent pointer has passed goes without URG.
  h.in({.flags = ACK, .seq = 1, .ack = 5001});
  h.send("normal");
  Sent n = h.expect(ACK | PSH, 5001, 1, 6);
  EXPECT_EQ(n.urgent, 0);
}

TEST(Urgent, Must32_Must33_InboundUrgentIsAnnouncedAndCounted) {
  Harness h;
  h.to_established_active();
  // SEG.UP = SEG.SEQ + urgent pointer: the urgent data ends before relative octet 11.
  h.in({.flags = ACK | URG, .seq = 1, .ack = 1, .data = "abc", .urg = 10});
  h.expect(ACK, 1, 4);
  EXPECT_EQ(h.count_events(EventKind::urgent), 1u);
  EXPECT_EQ(h.conn().urgent_pending(), 10u);  // MUST-33: octets 1..10 are urgent
  // The same pointer from the next segment: still the same urgent data, no new signal.
  h.in({.flags = ACK | URG, .seq = 4, .ack = 1, .data = "def", .urg = 7});
  h.expect(ACK, 1, 7);
  EXPECT_EQ(h.count_events(EventKind::urgent), 1u);
  EXPECT_EQ(h.receive(), "abcdef");
  EXPECT_EQ(h.conn().urgent_pending(), 4u);
  h.in({.flags = ACK | URG, .seq = 7, .ack = 1, .data = "ghij", .urg = 4});
  h.expect(ACK, 1, 11);
  EXPECT_EQ(h.count_events(EventKind::urgent), 1u);
  EXPECT_EQ(h.receive(), "ghij");
  EXPECT_EQ(h.conn().urgent_pending(), 0u);  // read up to the mark
  // An advanced pointer: signalled again (MUST-32).
  h.in({.flags = ACK | URG, .seq = 11, .ack = 1, .data = "klm", .urg = 2});
  h.expect(ACK, 1, 14);
  EXPECT_EQ(h.count_events(EventKind::urgent), 2u);
  EXPECT_EQ(h.conn().urgent_pending(), 2u);
  EXPECT_EQ(h.receive(), "klm");
  EXPECT_EQ(h.conn().urgent_pending(), 0u);
}

TEST(Urgent, Must31_InboundPointerBeyondTheSegment) {
  Harness h;
  h.to_established_active();
  h.in({.flags = ACK | URG, .seq = 1, .ack = 1, .data = "0123456789", .urg = 100});
  h.expect(ACK, 1, 11);
  EXPECT_EQ(h.count_events(EventKind::urgent), 1u);
  EXPECT_EQ(h.conn().urgent_pending(), 100u);
  // The next segment points at the same octet: the same urgent sequence, one notification.
  h.in({.flags = ACK | URG, .seq = 11, .ack = 1, .data = "0123456789", .urg = 90});
  h.expect(ACK, 1, 21);
  EXPECT_EQ(h.count_events(EventKind::urgent), 1u);
  EXPECT_EQ(h.receive(), "01234567890123456789");
  EXPECT_EQ(h.conn().urgent_pending(), 80u);
}

TEST(Urgent, IgnoredAfterThePeersFin) {
  Harness h;
  h.to_close_wait();
  h.in({.flags = ACK | URG, .seq = 2, .ack = 1, .urg = 5});
  h.expect_none();
  EXPECT_FALSE(h.has_event(EventKind::urgent));
  EXPECT_EQ(h.conn().urgent_pending(), 0u);
}

}  // namespace
}  // namespace synfin::test

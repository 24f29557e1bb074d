// The stack against a raw peer: resets for closed ports, listener behaviour, address
// validation, IP options, checksums, TTL and TOS, ICMP echo and errors.
#include <set>

#include "stack/raw_peer.hpp"

namespace synfin::test {
namespace {

const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kPeer = Ipv4Addr::of(10, 0, 0, 2);

class RawStack : public ::testing::Test {
 protected:
  RawStack() : s(test_config()) { s.add_interface({kUs, 24, 1500}); }
  std::vector<Captured> inject(const RawTcp& r) {
    s.receive(build_tcp_packet(r), now);
    return sent_by(s, now);
  }
  Stack s;
  Instant now = at(10s);
};

TEST_F(RawStack, SynToClosedPortGetsRstAck) {  // RFC 9293 3.10.7.1
  auto out = inject({.seq = 1000, .flags = flag::SYN});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].tcp);
  EXPECT_EQ(out[0].tcp->flags, flag::RST | flag::ACK);
  EXPECT_EQ(out[0].tcp->seq.raw(), 0u);
  EXPECT_EQ(out[0].tcp->ack.raw(), 1001u);
  EXPECT_EQ(out[0].ip.dst, kPeer);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_no_socket), 1u);
  EXPECT_EQ(s.counters().resets_out, 1u);
}

TEST_F(RawStack, AckToClosedPortGetsRstWithSeqFromAck) {
  auto out = inject({.seq = 1000, .ack = 777, .flags = flag::ACK, .data = "abc"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::RST);
  EXPECT_EQ(out[0].tcp->seq.raw(), 777u);
}

TEST_F(RawStack, RstToClosedPortIsDroppedSilently) {
  auto out = inject({.flags = flag::RST});
  EXPECT_TRUE(out.empty());
}

TEST_F(RawStack, ListenerAnswersSynAndResetsStrayAck) {
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 80, 4));
  auto out = inject({.seq = 5000, .flags = flag::SYN, .mss = 1000});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
  EXPECT_EQ(out[0].tcp->ack.raw(), 5001u);
  EXPECT_TRUE(out[0].tcp->options.has_mss);
  // An ACK from another port reaches only the listener: <SEQ=SEG.ACK><CTL=RST>.
  out = inject({.sport = 6000, .seq = 1, .ack = 99, .flags = flag::ACK});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::RST);
  EXPECT_EQ(out[0].tcp->seq.raw(), 99u);
  // A RST to the listener is ignored.
  out = inject({.sport = 6001, .flags = flag::RST});
  EXPECT_TRUE(out.empty());
}

TEST_F(RawStack, Must3BadChecksumIsDroppedAndCounted) {
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 80, 4));
  auto out = inject({.flags = flag::SYN, .bad_checksum = true});
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_bad_checksum), 1u);
  EXPECT_EQ(s.connection_count(), 0u);
}

TEST_F(RawStack, Must50IpOptionsAreIgnored) {
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 80, 4));
  // Router alert (148, len 4) and a NOP-padded unknown option.
  auto out = inject({.flags = flag::SYN, .ip_options = {148, 4, 0, 0, 1, 1, 1, 0}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
}

TEST_F(RawStack, Must57SegmentsToBroadcastOrMulticastAreDropped) {
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 80, 4));
  for (Ipv4Addr dst : {Ipv4Addr::of(255, 255, 255, 255), Ipv4Addr::of(10, 0, 0, 255), Ipv4Addr::of(224, 0, 0, 1)}) {
    auto out = inject({.dst = dst, .flags = flag::SYN});
    EXPECT_TRUE(out.empty()) << dst.to_string();
  }
  EXPECT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(s.counters().drop_count(DropReason::ip_not_for_us), 3u);
}

TEST_F(RawStack, Must63SynsFromInvalidSourcesAreIgnored) {
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 80, 4));
  for (Ipv4Addr src : {Ipv4Addr::of(224, 1, 2, 3), Ipv4Addr::of(255, 255, 255, 255), Ipv4Addr::of(0, 0, 0, 0),
                       Ipv4Addr::of(10, 0, 0, 255)}) {
    auto out = inject({.src = src, .flags = flag::SYN});
    EXPECT_TRUE(out.empty()) << src.to_string();
  }
  EXPECT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(s.counters().drop_count(DropReason::ip_bad_source), 4u);
}

TEST_F(RawStack, Must46ConnectToBroadcastOrMulticastIsRefused) {
  for (Ipv4Addr dst : {Ipv4Addr::of(255, 255, 255, 255), Ipv4Addr::of(10, 0, 0, 255), Ipv4Addr::of(224, 0, 0, 1),
                       Ipv4Addr::of(0, 0, 0, 0)}) {
    auto h = s.connect(dst, 80, now);
    ASSERT_FALSE(h.ok()) << dst.to_string();
    EXPECT_EQ(h.error(), Error::invalid_argument);
  }
  EXPECT_TRUE(sent_by(s, now).empty());
  EXPECT_EQ(s.connection_count(), 0u);
}

TEST_F(RawStack, Must48Must49TtlAndTosOfWhatWeSend) {
  StackConfig c = test_config();
  c.ttl = 7;
  c.tos = 18 << 2;  // DSCP AF21
  Stack t(c);
  t.add_interface({kUs, 24, 1500});
  ASSERT_TRUE(t.connect(kPeer, 80, now));
  auto out = sent_by(t, now);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.ttl, 7);
  EXPECT_EQ(out[0].ip.tos, 18 << 2);
  EXPECT_TRUE(out[0].ip.dont_fragment);
}

TEST_F(RawStack, Must43Must44LocalAddressChoice) {
  Stack t(test_config());
  t.add_interface({Ipv4Addr::of(10, 0, 0, 1), 24, 1500});
  t.add_interface({Ipv4Addr::of(192, 168, 7, 1), 24, 1500});
  // The route picks the interface whose subnet holds the peer.
  ASSERT_TRUE(t.connect(Ipv4Addr::of(192, 168, 7, 9), 80, now));
  auto out = sent_by(t, now);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.src, Ipv4Addr::of(192, 168, 7, 1));
  // An explicit local address wins.
  ASSERT_TRUE(t.connect(Ipv4Addr::of(192, 168, 7, 9), 81, now, {Ipv4Addr::of(10, 0, 0, 1), 0}));
  out = sent_by(t, now);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip.src, Ipv4Addr::of(10, 0, 0, 1));
  // An address that is not ours is refused.
  auto bad = t.connect(Ipv4Addr::of(192, 168, 7, 9), 82, now, {Ipv4Addr::of(10, 9, 9, 9), 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), Error::invalid_argument);
}

TEST_F(RawStack, PingIsAnswered) {
  const std::uint8_t body[] = {1, 2, 3, 4, 5, 6, 7};
  s.receive(build_icmp_packet(kPeer, kUs, wire::icmp_type::echo_request, 0, 0x12340001, body), now);
  auto out = sent_by(s, now);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, wire::icmp_type::echo_reply);
  EXPECT_EQ(out[0].icmp->rest, 0x12340001u);
  EXPECT_EQ(out[0].payload, std::vector<std::uint8_t>(std::begin(body), std::end(body)));
  EXPECT_EQ(out[0].ip.dst, kPeer);
}

TEST_F(RawStack, MalformedPacketsAreCountedNotFatal) {
  std::vector<std::uint8_t> junk = {0x45, 0, 0, 10};
  s.receive(junk, now);
  s.receive({}, now);
  auto p = build_tcp_packet({.flags = flag::SYN});
  p[0] = 0x65;  // version 6
  s.receive(p, now);
  EXPECT_EQ(s.counters().drop_count(DropReason::ip_truncated), 2u);
  EXPECT_EQ(s.counters().drop_count(DropReason::ip_bad_version), 1u);
  EXPECT_TRUE(sent_by(s, now).empty());
}

TEST_F(RawStack, Must41SecondListenIsRefusedAndHarmless) {
  auto l = s.listen(Ipv4Addr{}, 80, 4);
  ASSERT_TRUE(l);
  auto again = s.listen(Ipv4Addr{}, 80, 4);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), Error::address_in_use);
  // A specific address beside the wildcard is a different listener.
  EXPECT_TRUE(s.listen(kUs, 80, 4));
}

TEST_F(RawStack, Must42ListenOnAPortWithAConnectionInSynSent) {
  ASSERT_TRUE(s.connect(kPeer, 9000, now, {kUs, 8080}));
  (void)sent_by(s, now);
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 8080, 4));
  auto out = inject({.src = Ipv4Addr::of(10, 0, 0, 3), .sport = 4444, .dport = 8080, .flags = flag::SYN});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
  EXPECT_EQ(s.connection_count(), 2u);
}

TEST_F(RawStack, ConnectErrorsAreValues) {
  EXPECT_EQ(s.connect(kPeer, 0, now).error(), Error::invalid_argument);
  EXPECT_EQ(s.listen(Ipv4Addr{}, 0, 4).error(), Error::invalid_argument);
  EXPECT_EQ(s.listen(Ipv4Addr::of(1, 2, 3, 4), 80, 4).error(), Error::invalid_argument);
  Stack none(test_config());
  EXPECT_EQ(none.connect(kPeer, 80, now).error(), Error::unreachable);
}

// --- ICMP errors (RFC 9293 section 3.9.2.2, RFC 5927) -------------------------------------

class IcmpErrors : public RawStack {
 protected:
  // Opens a connection to kPeer:80 and completes the handshake as the raw peer.
  Handle open(bool established) {
    auto h = s.connect(kPeer, 80, now);
    EXPECT_TRUE(h.ok());
    auto out = sent_by(s, now);
    EXPECT_EQ(out.size(), 1u);
    syn = *out[0].tcp;
    if (established) {
      inject({.sport = 80, .dport = syn.src_port, .seq = 7000, .ack = syn.seq.raw() + 1,
              .flags = flag::SYN | flag::ACK, .mss = 1460});
    }
    s.drain_events();
    return *h;
  }
  // An ICMP error quoting our segment with sequence number `seq`.
  void icmp(std::uint8_t type, std::uint8_t code, std::uint32_t seq, std::uint32_t rest = 0) {
    std::vector<std::uint8_t> quote = build_tcp_packet({.src = kUs, .dst = kPeer, .sport = syn.src_port,
                                                        .dport = 80, .seq = seq, .flags = flag::ACK});
    quote.resize(28);  // IP header and the first 8 bytes of TCP
    s.receive(build_icmp_packet(Ipv4Addr::of(10, 0, 0, 254), kUs, type, code, rest, quote), now);
  }
  wire::TcpSegment syn;
};

TEST_F(IcmpErrors, Shld26PortUnreachableAbortsAnOpeningConnection) {
  Handle h = open(false);
  icmp(wire::icmp_type::dest_unreachable, 3, syn.seq.raw());
  auto i = s.info(h);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->state, TcpState::closed);
  EXPECT_EQ(i->last_error, Error::refused);
}

TEST_F(IcmpErrors, Must56SoftErrorsDoNotAbort) {
  Handle h = open(true);
  ASSERT_EQ(s.info(h)->state, TcpState::established);
  const std::uint8_t data[] = {1, 2, 3};
  ASSERT_TRUE(s.send(h, data, now));
  (void)sent_by(s, now);
  for (auto [type, code] : {std::pair{3, 0}, {3, 1}, {3, 5}, {11, 0}, {11, 1}, {12, 0}}) {
    icmp(static_cast<std::uint8_t>(type), static_cast<std::uint8_t>(code), syn.seq.raw() + 1);
    EXPECT_EQ(s.info(h)->state, TcpState::established) << type << "/" << code;
  }
  // MUST-47, SHLD-25: the application hears of them.
  std::size_t errors = 0;
  for (const auto& e : s.drain_events())
    if (e.kind == SocketEventKind::error && e.error == Error::unreachable) ++errors;
  EXPECT_EQ(errors, 6u);
}

TEST_F(IcmpErrors, Must55SourceQuenchIsIgnored) {
  Handle h = open(true);
  const auto before = s.info(h)->cwnd;
  icmp(wire::icmp_type::source_quench, 0, syn.seq.raw() + 1);
  EXPECT_EQ(s.info(h)->state, TcpState::established);
  EXPECT_EQ(s.info(h)->cwnd, before);
  EXPECT_TRUE(s.drain_events().empty());
}

TEST_F(IcmpErrors, FragmentationNeededLowersTheMssAndNeverAborts) {
  Handle h = open(true);
  std::vector<std::uint8_t> data(5000, 'x');
  ASSERT_TRUE(s.send(h, data, now));
  auto first = sent_by(s, now);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[0].payload.size(), 1460u);
  icmp(wire::icmp_type::dest_unreachable, 4, syn.seq.raw() + 1, 1000);  // next-hop MTU 1000
  EXPECT_EQ(s.info(h)->state, TcpState::established);
  EXPECT_EQ(s.info(h)->snd_mss, 960u);
  auto again = sent_by(s, now);
  ASSERT_FALSE(again.empty());
  for (const auto& p : again) EXPECT_LE(p.payload.size(), 960u);
}

TEST_F(IcmpErrors, Must54ErrorsWithAStaleSequenceNumberOrUnknownTupleAreIgnored) {
  Handle h = open(false);
  icmp(wire::icmp_type::dest_unreachable, 3, syn.seq.raw() + 100000);  // not in flight
  EXPECT_EQ(s.info(h)->state, TcpState::syn_sent);
  EXPECT_GE(s.counters().drop_count(DropReason::icmp_no_connection), 1u);
  syn.src_port ^= 1;  // someone else's connection
  icmp(wire::icmp_type::dest_unreachable, 3, syn.seq.raw());
  EXPECT_EQ(s.info(h)->state, TcpState::syn_sent);
}

}  // namespace
}  // namespace synfin::test

namespace synfin::test {
namespace {

// A connection to kPeer:80 established by the raw peer (ISN 7000), ready for data.
class RawConnection : public RawStack {
 protected:
  void SetUp() override {
    h = *s.connect(kPeer, 80, now);
    auto out = sent_by(s, now);
    ASSERT_EQ(out.size(), 1u);
    syn = *out[0].tcp;
    out = inject({.sport = 80, .dport = syn.src_port, .seq = 7000, .ack = syn.seq.raw() + 1,
                  .flags = flag::SYN | flag::ACK, .mss = 1000});
    ASSERT_EQ(out.size(), 1u);
    s.drain_events();
  }
  RawTcp data(std::uint32_t offset, std::size_t len) {
    return {.sport = 80, .dport = syn.src_port, .seq = 7001 + offset, .ack = syn.seq.raw() + 1,
            .flags = flag::ACK, .data = std::string(len, 'd')};
  }
  Handle h;
  wire::TcpSegment syn;
};

TEST_F(RawConnection, Must58OneAckForABatchOfSegments) {
  for (std::uint32_t i = 0; i < 10; ++i) s.receive(build_tcp_packet(data(i * 1000, 1000)), now);
  auto out = sent_by(s, now);
  ASSERT_EQ(out.size(), 1u) << "ten segments processed together must be acknowledged once";
  EXPECT_EQ(out[0].tcp->flags, flag::ACK);
  EXPECT_EQ(out[0].tcp->ack.raw(), 7001u + 10000u);
}

TEST_F(RawConnection, Must59OutOfOrderThenHoleFillerGiveOneCumulativeAck) {
  s.receive(build_tcp_packet(data(1000, 1000)), now);  // out of order
  s.receive(build_tcp_packet(data(2000, 1000)), now);  // out of order
  s.receive(build_tcp_packet(data(0, 1000)), now);     // fills the hole
  auto out = sent_by(s, now);
  ASSERT_EQ(out.size(), 1u) << "no intermediate duplicate ACKs: one ACK for the final state";
  EXPECT_EQ(out[0].tcp->ack.raw(), 7001u + 3000u);
}

TEST_F(RawConnection, Must48Shld21Shld22TosPerConnectionAndChangeable) {
  for (std::uint8_t dscp : {std::uint8_t{0}, std::uint8_t{18}, std::uint8_t{46}, std::uint8_t{63}}) {
    SocketOptions o;
    o.tos = static_cast<std::uint8_t>(dscp << 2);
    ASSERT_EQ(s.set_options(h, o, now), Error::none);
    const std::uint8_t b[] = {1, 2, 3};
    ASSERT_TRUE(s.send(h, b, now));
    auto out = sent_by(s, now);
    ASSERT_FALSE(out.empty());
    for (const auto& p : out) EXPECT_EQ(p.ip.tos, dscp << 2) << int(dscp);
    inject({.sport = 80, .dport = syn.src_port, .seq = 7001, .ack = out.back().tcp->seq.raw() + 3,
            .flags = flag::ACK});
  }
}

TEST_F(RawConnection, Shld20SoftErrorReportsCanBeSwitchedOff) {
  SocketOptions o;
  o.report_soft_errors = false;
  ASSERT_EQ(s.set_options(h, o, now), Error::none);
  std::vector<std::uint8_t> quote = build_tcp_packet({.src = kUs, .dst = kPeer, .sport = syn.src_port,
                                                      .dport = 80, .seq = syn.seq.raw() + 1, .flags = flag::ACK});
  quote.resize(28);
  const std::uint8_t d[] = {9};
  ASSERT_TRUE(s.send(h, d, now));
  (void)sent_by(s, now);
  s.receive(build_icmp_packet(Ipv4Addr::of(10, 0, 0, 254), kUs, wire::icmp_type::dest_unreachable, 1, 0, quote), now);
  EXPECT_TRUE(s.drain_events().empty());
  EXPECT_EQ(s.info(h)->state, TcpState::established);
  EXPECT_EQ(s.info(h)->last_error, Error::unreachable);  // still there to ask for (SHLD-25)
}

TEST_F(RawConnection, Must45TheLocalAddressNeverChanges) {
  // A new interface on the same subnet appears; the connection keeps its address.
  s.add_interface({Ipv4Addr::of(10, 0, 0, 7), 24, 1500});
  std::vector<std::uint8_t> bulk(5000, 'x');
  ASSERT_TRUE(s.send(h, bulk, now));
  auto out = sent_by(s, now);
  ASSERT_FALSE(out.empty());
  for (const auto& p : out) EXPECT_EQ(p.ip.src, kUs);
}

// An independent checksum: RFC 1071 the slow way, over pseudo-header and segment.
std::uint16_t reference_tcp_checksum(const Captured& p) {
  std::vector<std::uint8_t> v;
  auto put32 = [&](std::uint32_t x) {
    for (int i = 3; i >= 0; --i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
  };
  const std::size_t ihl = (p.bytes[0] & 0x0f) * 4;
  put32(p.ip.src.value);
  put32(p.ip.dst.value);
  v.push_back(0);
  v.push_back(6);
  const std::size_t len = p.bytes.size() - ihl;
  v.push_back(static_cast<std::uint8_t>(len >> 8));
  v.push_back(static_cast<std::uint8_t>(len));
  v.insert(v.end(), p.bytes.begin() + static_cast<std::ptrdiff_t>(ihl), p.bytes.end());
  v[12 + 16] = v[12 + 17] = 0;  // the checksum field itself
  if (v.size() % 2) v.push_back(0);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < v.size(); i += 2) sum += static_cast<std::uint32_t>(v[i] << 8 | v[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

TEST_F(RawConnection, Must2EverySegmentKindCarriesAValidChecksum) {
  std::vector<Captured> all;
  auto take = [&] {
    for (auto& p : sent_by(s, now)) all.push_back(std::move(p));
  };
  const std::uint8_t odd[] = {1, 2, 3, 4, 5, 6, 7};  // odd length
  ASSERT_TRUE(s.send(h, odd, now));
  take();
  inject({.sport = 80, .dport = syn.src_port, .seq = 7001, .ack = syn.seq.raw() + 8, .flags = flag::ACK,
          .data = "abc"});
  s.receive(build_tcp_packet({.sport = 80, .dport = syn.src_port, .seq = 7004, .ack = syn.seq.raw() + 8,
                              .flags = flag::FIN | flag::ACK}),
            now);
  take();
  ASSERT_EQ(s.shutdown(h, now), Error::none);
  take();
  s.receive(build_tcp_packet({.sport = 9, .dport = 9, .flags = flag::SYN}), now);  // RST from no socket
  take();
  ASSERT_TRUE(s.listen(Ipv4Addr{}, 81, 1));
  s.receive(build_tcp_packet({.dport = 81, .flags = flag::SYN}), now);  // SYN-ACK
  take();
  std::set<std::uint8_t> kinds;
  for (const auto& p : all) {
    ASSERT_TRUE(p.tcp);
    kinds.insert(p.tcp->flags);
    const std::size_t ihl = (p.bytes[0] & 0x0f) * 4;
    const std::uint16_t field = static_cast<std::uint16_t>(p.bytes[ihl + 16] << 8 | p.bytes[ihl + 17]);
    EXPECT_EQ(field, reference_tcp_checksum(p)) << wire::flags_to_string(p.tcp->flags);
  }
  EXPECT_GE(kinds.size(), 5u);  // data, ACK, FIN, RST, SYN-ACK
}

}  // namespace
}  // namespace synfin::test

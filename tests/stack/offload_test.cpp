// Checksum offload on an interface: the stack leaves the TCP checksum to the device when the
// interface declares it, and computes and verifies it (MUST-2, MUST-3) everywhere else.
#include "stack/raw_peer.hpp"

namespace synfin::test {
namespace {

const Ipv4Addr kClient = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kServer = Ipv4Addr::of(10, 0, 0, 2);

// Raw bytes of what a stack sent, in order.
class Bytes : public PacketSink {
 public:
  void send_packet(std::span<const std::uint8_t> p, Instant) override { packets.emplace_back(p.begin(), p.end()); }
  std::vector<std::vector<std::uint8_t>> packets;
};

std::uint16_t tcp_checksum_field(const std::vector<std::uint8_t>& packet) {
  return static_cast<std::uint16_t>(packet[wire::kIpv4MinHeader + 16] << 8 | packet[wire::kIpv4MinHeader + 17]);
}

// Moves packets between the two stacks until both are quiet.
void exchange(Stack& a, Stack& b, Instant now) {
  for (int i = 0; i < 32; ++i) {
    Bytes ab, ba;
    a.transmit(ab, now);
    b.transmit(ba, now);
    if (ab.packets.empty() && ba.packets.empty()) return;
    for (const auto& p : ab.packets) b.receive(p, now);
    for (const auto& p : ba.packets) a.receive(p, now);
  }
}

TEST(ChecksumOffload, OffloadedInterfaceLeavesTheChecksumToTheDevice) {
  Stack client(test_config("client", 1));
  client.add_interface({kClient, 24, 1500, true});
  const Instant now{};
  ASSERT_TRUE(client.connect(kServer, 80, now));
  Bytes out;
  client.transmit(out, now);
  ASSERT_EQ(out.packets.size(), 1u);
  EXPECT_EQ(tcp_checksum_field(out.packets[0]), 0u);

  // A stack that checks checksums itself drops that SYN as corrupt and does not answer.
  Stack strict(test_config("server", 2));
  strict.add_interface({kServer, 24, 1500});
  ASSERT_TRUE(strict.listen(Ipv4Addr{}, 80, 8));
  strict.receive(out.packets[0], now);
  EXPECT_EQ(strict.counters().drop_count(DropReason::tcp_bad_checksum), 1u);
  EXPECT_EQ(strict.pending_packets(), 0u);
}

TEST(ChecksumOffload, WithoutOffloadEverySegmentCarriesAValidChecksum) {
  Stack client(test_config("client", 1));
  client.add_interface({kClient, 24, 1500});
  const Instant now{};
  ASSERT_TRUE(client.connect(kServer, 80, now));
  Bytes out;
  client.transmit(out, now);
  ASSERT_EQ(out.packets.size(), 1u);
  auto ip = wire::parse_ipv4(out.packets[0]);
  ASSERT_TRUE(ip);
  const wire::PseudoHeaderV4 ph{ip->header.src.value, ip->header.dst.value};
  EXPECT_TRUE(wire::parse_tcp(ip->payload, &ph));
  EXPECT_NE(tcp_checksum_field(out.packets[0]), 0u);
}

TEST(ChecksumOffload, TwoOffloadedStacksTransferDataByteForByte) {
  Stack client(test_config("client", 1)), server(test_config("server", 2));
  client.add_interface({kClient, 24, 1500, true});
  server.add_interface({kServer, 24, 1500, true});
  const Instant now{};
  auto l = server.listen(Ipv4Addr{}, 80, 8);
  ASSERT_TRUE(l);
  auto c = client.connect(kServer, 80, now);
  ASSERT_TRUE(c);
  exchange(client, server, now);
  auto s = server.accept(*l);
  ASSERT_TRUE(s);
  std::vector<std::uint8_t> data(100000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  std::size_t sent = 0;
  std::vector<std::uint8_t> got;
  std::uint8_t buf[8192];
  for (int round = 0; round < 200 && got.size() < data.size(); ++round) {
    if (sent < data.size()) {
      auto r = client.send(*c, std::span(data).subspan(sent), now);
      if (r) sent += *r;
    }
    exchange(client, server, now);
    for (auto r = server.recv(*s, buf, now); r && *r > 0; r = server.recv(*s, buf, now)) got.insert(got.end(), buf, buf + *r);
  }
  EXPECT_EQ(got, data);
  EXPECT_EQ(server.counters().drop_count(DropReason::tcp_bad_checksum), 0u);
}

}  // namespace
}  // namespace synfin::test

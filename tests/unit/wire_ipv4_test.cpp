// IPv4 header parsing and building (RFC 791): golden bytes from a real Linux capture decoded
// field by field and rebuilt byte for byte; every validation failure and its DropReason;
// link padding; header options (RFC 9293 MUST-50); Ipv4Addr text form.
#include <gtest/gtest.h>

#include <vector>

#include "unit/hex.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace synfin::wire {
namespace {

using test::from_hex;

// A SYN from Linux 6.18, 10.99.0.1:52532 -> 10.99.0.2:47123, captured on a veth pair between
// two network namespaces with transmit checksum offload off (so both checksums are final).
constexpr std::string_view kLinuxSyn =
    "4500003c6ce940004006b90a0a6300010a630002"                  // IPv4, 20 bytes
    "cd34b813545ff5c000000000a002faf0ac2a0000"                  // TCP header
    "020405b40402080ae1c8dae7000000000103030a";                 // TCP options
// The peer's final ACK of the same capture: IP ID 0, DF.
constexpr std::string_view kLinuxAck =
    "4500003400004000400625fc0a6300010a630002"
    "cd34b813545ff5c8a7bc15398010003fe91600000101080ae1c8dc14d0985dc2";

// Recomputes the header checksum after a test has changed a field.
void fix_checksum(std::vector<std::uint8_t>& b) {
  const std::size_t ihl = static_cast<std::size_t>(b[0] & 0x0f) * 4;
  store_be16(&b[10], 0);
  store_be16(&b[10], internet_checksum({b.data(), ihl}));
}

DropReason reason_of(const std::vector<std::uint8_t>& b) {
  auto r = parse_ipv4(b);
  EXPECT_FALSE(r.ok());
  return r.ok() ? DropReason::count_ : r.error();
}

TEST(Ipv4, GoldenLinuxSynDecodedFieldByField) {
  const auto b = from_hex(kLinuxSyn);
  ASSERT_EQ(b.size(), 60u);
  auto r = parse_ipv4(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const Ipv4Header& h = r->header;
  EXPECT_EQ(h.header_length, 20);
  EXPECT_EQ(h.tos, 0);
  EXPECT_EQ(h.total_length, 60);
  EXPECT_EQ(h.id, 0x6ce9);
  EXPECT_TRUE(h.dont_fragment);
  EXPECT_FALSE(h.more_fragments);
  EXPECT_EQ(h.fragment_offset, 0);
  EXPECT_EQ(h.ttl, 64);
  EXPECT_EQ(h.protocol, ip_proto::tcp);
  EXPECT_EQ(h.src, Ipv4Addr::of(10, 99, 0, 1));
  EXPECT_EQ(h.dst, Ipv4Addr::of(10, 99, 0, 2));
  EXPECT_TRUE(r->options.empty());
  ASSERT_EQ(r->payload.size(), 40u);
  EXPECT_EQ(r->payload.data(), b.data() + 20);  // a view into the buffer, not a copy
}

TEST(Ipv4, GoldenHeadersRebuiltByteForByte) {
  for (std::string_view golden : {kLinuxSyn, kLinuxAck}) {
    const auto b = from_hex(golden);
    auto r = parse_ipv4(b);
    ASSERT_TRUE(r.ok());
    std::vector<std::uint8_t> out(20, 0xee);
    write_ipv4_header(out, r->header);
    EXPECT_EQ(out, std::vector<std::uint8_t>(b.begin(), b.begin() + 20)) << golden;
  }
}

TEST(Ipv4, WrittenHeaderCarriesEveryField) {
  Ipv4Header h;
  h.tos = 0xb8;  // DSCP EF, ECN 0
  h.total_length = 1500;
  h.id = 0xbeef;
  h.dont_fragment = false;
  h.ttl = 1;
  h.protocol = ip_proto::udp;
  h.src = Ipv4Addr::of(192, 0, 2, 1);
  h.dst = Ipv4Addr::of(198, 51, 100, 7);
  std::vector<std::uint8_t> out(1500, 0);
  write_ipv4_header(out, h);
  EXPECT_EQ(internet_checksum({out.data(), 20}), 0);  // the checksum field makes it sum to -0
  auto r = parse_ipv4(out);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->header.tos, 0xb8);
  EXPECT_EQ(r->header.total_length, 1500);
  EXPECT_EQ(r->header.id, 0xbeef);
  EXPECT_FALSE(r->header.dont_fragment);
  EXPECT_EQ(r->header.ttl, 1);
  EXPECT_EQ(r->header.protocol, ip_proto::udp);
  EXPECT_EQ(r->header.src.to_string(), "192.0.2.1");
  EXPECT_EQ(r->header.dst.to_string(), "198.51.100.7");
  EXPECT_EQ(r->payload.size(), 1480u);
}

TEST(Ipv4, TruncatedBelowTwentyBytes) {
  auto b = from_hex(kLinuxSyn);
  for (std::size_t n = 0; n < 20; ++n) {
    auto r = parse_ipv4({b.data(), n});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DropReason::ip_truncated) << n;
  }
}

TEST(Ipv4, BadVersion) {
  for (std::uint8_t v : {0, 5, 6, 15}) {
    auto b = from_hex(kLinuxSyn);
    b[0] = static_cast<std::uint8_t>(v << 4 | 5);
    fix_checksum(b);
    EXPECT_EQ(reason_of(b), DropReason::ip_bad_version) << int{v};
  }
}

TEST(Ipv4, HeaderLengthBelowTwenty) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    auto b = from_hex(kLinuxSyn);
    b[0] = static_cast<std::uint8_t>(0x40 | ihl);
    EXPECT_EQ(reason_of(b), DropReason::ip_bad_header_length) << int{ihl};
  }
}

TEST(Ipv4, HeaderLengthPastTheBuffer) {
  auto b = from_hex(kLinuxSyn);
  b.resize(40);
  b[0] = 0x4b;  // 44 bytes of header in a 40-byte buffer
  store_be16(&b[2], 40);
  EXPECT_EQ(reason_of(b), DropReason::ip_bad_header_length);
}

TEST(Ipv4, TotalLengthBelowHeaderLength) {
  auto b = from_hex(kLinuxSyn);
  store_be16(&b[2], 19);
  fix_checksum(b);
  EXPECT_EQ(reason_of(b), DropReason::ip_bad_total_length);
  store_be16(&b[2], 20);  // exactly the header: valid, empty payload
  fix_checksum(b);
  auto r = parse_ipv4(b);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->payload.empty());
}

TEST(Ipv4, TotalLengthPastTheBuffer) {
  auto b = from_hex(kLinuxSyn);
  store_be16(&b[2], 61);
  fix_checksum(b);
  EXPECT_EQ(reason_of(b), DropReason::ip_bad_total_length);
}

TEST(Ipv4, BadHeaderChecksum) {
  auto b = from_hex(kLinuxSyn);
  b[11] ^= 0x01;
  EXPECT_EQ(reason_of(b), DropReason::ip_bad_checksum);
  b = from_hex(kLinuxSyn);
  b[8] = 63;  // TTL changed in flight without the checksum following
  EXPECT_EQ(reason_of(b), DropReason::ip_bad_checksum);
}

TEST(Ipv4, ChecksumCoversOnlyTheHeader) {
  auto b = from_hex(kLinuxSyn);
  b[40] ^= 0xff;  // a payload byte: not the IP layer's business
  EXPECT_TRUE(parse_ipv4(b).ok());
}

TEST(Ipv4, FragmentsAreDropped) {
  auto b = from_hex(kLinuxSyn);
  store_be16(&b[6], 0x2000);  // MF, offset 0: the first fragment
  fix_checksum(b);
  EXPECT_EQ(reason_of(b), DropReason::ip_fragment);
  store_be16(&b[6], 0x0001);  // offset 8 bytes, last fragment
  fix_checksum(b);
  EXPECT_EQ(reason_of(b), DropReason::ip_fragment);
  store_be16(&b[6], 0x5fff);  // DF + MF + the largest offset
  fix_checksum(b);
  EXPECT_EQ(reason_of(b), DropReason::ip_fragment);
  store_be16(&b[6], 0x0000);  // DF clear, no fragmentation: a whole packet
  fix_checksum(b);
  auto r = parse_ipv4(b);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->header.dont_fragment);
}

TEST(Ipv4, LinkPaddingBeyondTotalLengthIsCutOff) {
  // An Ethernet frame is at least 60 bytes: a 52-byte packet arrives with 6 bytes of padding.
  auto b = from_hex(kLinuxAck);
  ASSERT_EQ(b.size(), 52u);
  b.insert(b.end(), {0, 0, 0, 0, 0xaa, 0x55});
  auto r = parse_ipv4(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header.total_length, 52);
  EXPECT_EQ(r->payload.size(), 32u);
  EXPECT_EQ(r->payload.data() + r->payload.size(), b.data() + 52);
}

TEST(Ipv4, OptionsAreKeptAsBytesAndSkipped) {  // RFC 9293 MUST-50
  // The SYN with an IPv4 Router Alert option (RFC 2113) and a NOP/EOL pad: 28-byte header.
  const auto syn = from_hex(kLinuxSyn);
  std::vector<std::uint8_t> b(syn.begin(), syn.begin() + 20);
  const std::vector<std::uint8_t> opts = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};
  b.insert(b.end(), opts.begin(), opts.end());
  b.insert(b.end(), syn.begin() + 20, syn.end());
  b[0] = 0x47;
  store_be16(&b[2], static_cast<std::uint16_t>(b.size()));
  fix_checksum(b);
  auto r = parse_ipv4(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->header.header_length, 28);
  EXPECT_EQ(std::vector<std::uint8_t>(r->options.begin(), r->options.end()), opts);
  EXPECT_EQ(std::vector<std::uint8_t>(r->payload.begin(), r->payload.end()),
            std::vector<std::uint8_t>(syn.begin() + 20, syn.end()));
}

TEST(Ipv4, LargestHeaderWithOptions) {
  std::vector<std::uint8_t> b(60, 0x01);  // 40 bytes of NOP options
  Ipv4Header h;
  h.total_length = 60;
  write_ipv4_header(b, h);
  b[0] = 0x4f;
  fix_checksum(b);
  auto r = parse_ipv4(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->options.size(), 40u);
  EXPECT_TRUE(r->payload.empty());
}

TEST(Ipv4Addr, ParseAndPrint) {
  struct Case {
    std::string_view text;
    std::uint32_t value;
  };
  for (const Case& c : {Case{"10.99.0.1", 0x0a630001u}, Case{"0.0.0.0", 0u},
                        Case{"255.255.255.255", 0xffffffffu}, Case{"192.168.1.200", 0xc0a801c8u},
                        Case{"127.0.0.1", 0x7f000001u}, Case{"1.0.0.10", 0x0100000au}}) {
    auto r = Ipv4Addr::parse(c.text);
    ASSERT_TRUE(r.ok()) << c.text;
    EXPECT_EQ(r->value, c.value) << c.text;
    EXPECT_EQ(r->to_string(), c.text);
  }
}

TEST(Ipv4Addr, RejectsMalformedText) {
  for (std::string_view bad :
       {"", ".", "1", "1.2.3", "1.2.3.", "1.2.3.4.", "1.2.3.4.5", "1..2.3", ".1.2.3", "256.0.0.1",
        "1.2.3.256", "1.2.3.1000", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/24", "-1.2.3.4", "+1.2.3.4",
        "a.b.c.d", "0x1.2.3.4", "1,2,3,4", "1.2.3.-4", "4294967295", "1.2.3.4\n",
        // Leading zeros read as octal by inet_aton; inet_pton and we refuse them.
        "01.2.3.4", "1.2.3.010", "00.0.0.0", "1.2.3.0004"}) {
    EXPECT_FALSE(Ipv4Addr::parse(bad).ok()) << "'" << bad << "'";
  }
}

TEST(Ipv4Addr, Classification) {
  EXPECT_TRUE(Ipv4Addr{}.is_unspecified());
  EXPECT_FALSE(Ipv4Addr::of(0, 0, 0, 1).is_unspecified());
  EXPECT_TRUE(Ipv4Addr::of(255, 255, 255, 255).is_broadcast());
  EXPECT_FALSE(Ipv4Addr::of(10, 255, 255, 255).is_broadcast());
  EXPECT_TRUE(Ipv4Addr::of(224, 0, 0, 1).is_multicast());
  EXPECT_TRUE(Ipv4Addr::of(239, 255, 255, 255).is_multicast());
  EXPECT_FALSE(Ipv4Addr::of(223, 255, 255, 255).is_multicast());
  EXPECT_FALSE(Ipv4Addr::of(240, 0, 0, 0).is_multicast());
  EXPECT_TRUE(Ipv4Addr::of(127, 1, 2, 3).is_loopback());
  EXPECT_FALSE(Ipv4Addr::of(128, 0, 0, 1).is_loopback());
  EXPECT_LT(Ipv4Addr::of(9, 255, 255, 255), Ipv4Addr::of(10, 0, 0, 0));
}

}  // namespace
}  // namespace synfin::wire

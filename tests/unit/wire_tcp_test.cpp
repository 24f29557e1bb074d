// The TCP header and its options (RFC 9293 section 3.1, RFC 7323, RFC 2018, RFC 7413):
// golden segments from a real Linux capture decoded field by field and rebuilt byte for byte,
// checksum with the pseudo-header, every malformation and its DropReason, the option rules of
// RFC 9293 (MUST-6, MUST-7, MUST-64, MUST-68, MUST-69), and the option writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "unit/hex.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

namespace synfin::wire {
namespace {

using test::from_hex;
using namespace tcp_flag;

// Linux 6.18, captured on a veth pair between two network namespaces with transmit checksum
// offload off, so the checksums are the ones Linux computed. 10.99.0.1:52532 -> 10.99.0.2:47123.
constexpr std::uint32_t kClient = 0x0a630001;  // 10.99.0.1
constexpr std::uint32_t kServer = 0x0a630002;  // 10.99.0.2
// The SYN: <mss 1460,sackOK,TS val 3788036839 ecr 0,nop,wscale 10>.
constexpr std::string_view kLinuxSyn =
    "cd34b813545ff5c000000000a002faf0ac2a0000"
    "020405b40402080ae1c8dae7000000000103030a";
// The first data segment: PSH|ACK, <nop,nop,TS val 3788036839 ecr 3499646101>, "hello\n".
constexpr std::string_view kLinuxData =
    "cd34b813545ff5c1a7bc15358018003fa7910000"
    "0101080ae1c8dae7d0985c95"
    "68656c6c6f0a";

// Linux's SYN option order, as an OptionLayout: mss, sackOK, TS, then wscale after one NOP.
constexpr OptionLayout kLinuxSynLayout = OptionLayout::of({
    {OptionKind::mss, 1, 0},
    {OptionKind::sack_permitted, 1, 0},
    {OptionKind::timestamps, 1, 0},
    {OptionKind::wscale, 4, 1},
});

// RFC 1071 the slow way, over the pseudo-header and segment, independent of checksum.cpp.
std::uint16_t reference_tcp_checksum(std::uint32_t src, std::uint32_t dst,
                                     std::vector<std::uint8_t> seg) {
  std::vector<std::uint8_t> all = {
      static_cast<std::uint8_t>(src >> 24), static_cast<std::uint8_t>(src >> 16),
      static_cast<std::uint8_t>(src >> 8),  static_cast<std::uint8_t>(src),
      static_cast<std::uint8_t>(dst >> 24), static_cast<std::uint8_t>(dst >> 16),
      static_cast<std::uint8_t>(dst >> 8),  static_cast<std::uint8_t>(dst),
      0,                                    6,
      static_cast<std::uint8_t>(seg.size() >> 8), static_cast<std::uint8_t>(seg.size())};
  seg[16] = seg[17] = 0;
  all.insert(all.end(), seg.begin(), seg.end());
  if (all.size() % 2) all.push_back(0);
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) sum += static_cast<std::uint32_t>(all[i] << 8 | all[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Result<TcpSegment, DropReason> parse_from_client(const std::vector<std::uint8_t>& b) {
  const PseudoHeaderV4 ph{kClient, kServer};
  return parse_tcp(b, &ph);
}

Result<TcpOptions, DropReason> parse_hex_options(std::string_view hex) {
  static std::vector<std::uint8_t> storage;  // keeps the bytes alive for the spans
  storage = from_hex(hex);
  return parse_options(storage);
}

// --- golden segments -----------------------------------------------------------------------

TEST(TcpGolden, LinuxSynDecodedFieldByField) {
  const auto b = from_hex(kLinuxSyn);
  auto r = parse_from_client(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  const TcpSegment& s = *r;
  EXPECT_EQ(s.src_port, 52532);
  EXPECT_EQ(s.dst_port, 47123);
  EXPECT_EQ(s.seq.raw(), 0x545ff5c0u);
  EXPECT_EQ(s.ack.raw(), 0u);
  EXPECT_EQ(s.header_length, 40);
  EXPECT_EQ(s.flags, SYN);
  EXPECT_TRUE(s.syn());
  EXPECT_FALSE(s.ack_flag() || s.fin() || s.rst() || s.urg());
  EXPECT_EQ(s.window, 64240);
  EXPECT_EQ(s.urgent, 0);
  EXPECT_TRUE(s.payload.empty());
  EXPECT_EQ(s.seg_len(), 1u);  // the SYN occupies one sequence number
  const TcpOptions& o = s.options;
  EXPECT_TRUE(o.has_mss);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_TRUE(o.has_timestamps);
  EXPECT_EQ(o.ts_val, 0xe1c8dae7u);
  EXPECT_EQ(o.ts_ecr, 0u);
  EXPECT_TRUE(o.has_wscale);
  EXPECT_EQ(o.wscale, 10);
  EXPECT_EQ(o.sack_count, 0);
  EXPECT_FALSE(o.has_fastopen);
  EXPECT_EQ(options_to_string(o), "mss 1460,wscale 10,sackOK,TS val 3788036839 ecr 0");
  EXPECT_EQ(TcpHeaderView(b).checksum(), 0xac2a);
}

TEST(TcpGolden, LinuxDataSegmentDecoded) {
  const auto b = from_hex(kLinuxData);
  auto r = parse_from_client(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->seq.raw(), 0x545ff5c1u);
  EXPECT_EQ(r->ack.raw(), 0xa7bc1535u);
  EXPECT_EQ(r->flags, PSH | ACK);
  EXPECT_EQ(flags_to_string(r->flags), "P.");
  EXPECT_EQ(r->window, 63);
  EXPECT_EQ(r->header_length, 32);
  EXPECT_TRUE(r->options.has_timestamps);
  EXPECT_EQ(r->options.ts_ecr, 0xd0985c95u);
  EXPECT_EQ(std::string(r->payload.begin(), r->payload.end()), "hello\n");
  EXPECT_EQ(r->payload.data(), b.data() + 32);
  EXPECT_EQ(r->seg_len(), 6u);
}

TEST(TcpGolden, ReferenceChecksumAgreesWithLinux) {
  // Guards the test itself: the slow reference reproduces the checksums Linux sent.
  EXPECT_EQ(reference_tcp_checksum(kClient, kServer, from_hex(kLinuxSyn)), 0xac2a);
  EXPECT_EQ(reference_tcp_checksum(kClient, kServer, from_hex(kLinuxData)), 0xa791);
}

TEST(TcpGolden, SynRebuiltByteForByte) {
  const auto b = from_hex(kLinuxSyn);
  auto r = parse_from_client(b);
  ASSERT_TRUE(r.ok());
  std::vector<std::uint8_t> out(kTcpMaxHeader, 0xee);
  const TcpHeaderFields f{r->src_port, r->dst_port, r->seq, r->ack, r->flags, r->window, r->urgent};
  const std::size_t hl = write_tcp_header(out, f, r->options, kLinuxSynLayout);
  ASSERT_EQ(hl, 40u);
  out.resize(hl);
  EXPECT_EQ(out[16], 0);  // the checksum is left for finish_tcp_checksum_v4
  EXPECT_EQ(out[17], 0);
  finish_tcp_checksum_v4(out, kClient, kServer);
  EXPECT_EQ(out, b);
}

TEST(TcpGolden, DataSegmentRebuiltByteForByteWithDefaultLayout) {
  // Linux's <nop,nop,TS> is also our default placement of timestamps.
  const auto b = from_hex(kLinuxData);
  auto r = parse_from_client(b);
  ASSERT_TRUE(r.ok());
  std::vector<std::uint8_t> out(kTcpMaxHeader + r->payload.size(), 0xee);
  const TcpHeaderFields f{r->src_port, r->dst_port, r->seq, r->ack, r->flags, r->window, r->urgent};
  const std::size_t hl = write_tcp_header(out, f, r->options, kDefaultLayout);
  ASSERT_EQ(hl, 32u);
  std::copy(r->payload.begin(), r->payload.end(), out.begin() + 32);
  out.resize(hl + r->payload.size());
  finish_tcp_checksum_v4(out, kClient, kServer);
  EXPECT_EQ(out, b);
}

TEST(TcpHeader, EveryFlagAndTheUrgentPointer) {
  auto b = from_hex(kLinuxData);
  b[13] = 0xff;
  store_be16(&b[18], 0x0006);
  finish_tcp_checksum_v4(b, kClient, kServer);
  EXPECT_EQ(load_be16(&b[16]), reference_tcp_checksum(kClient, kServer, b));
  auto r = parse_from_client(b);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->flags, 0xff);
  for (std::uint8_t f : {CWR, ECE, URG, ACK, PSH, RST, SYN, FIN}) EXPECT_TRUE(r->has(f)) << int{f};
  EXPECT_EQ(r->urgent, 6);
  EXPECT_EQ(r->seg_len(), 8u);  // 6 bytes + SYN + FIN
  EXPECT_EQ(flags_to_string(r->flags), "SFRPUEW.");

  // Each flag alone lands on exactly its own bit.
  const std::pair<std::uint8_t, std::uint8_t> bits[] = {{FIN, 0x01}, {SYN, 0x02}, {RST, 0x04},
                                                         {PSH, 0x08}, {ACK, 0x10}, {URG, 0x20},
                                                         {ECE, 0x40}, {CWR, 0x80}};
  for (auto [f, bit] : bits) {
    EXPECT_EQ(f, bit);
    b[13] = f;
    auto one = parse_tcp(b, nullptr);
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->flags, bit);
    EXPECT_EQ(one->syn(), f == SYN);
    EXPECT_EQ(one->fin(), f == FIN);
    EXPECT_EQ(one->rst(), f == RST);
    EXPECT_EQ(one->ack_flag(), f == ACK);
    EXPECT_EQ(one->urg(), f == URG);
  }
}

TEST(TcpHeader, FlagsToString) {
  EXPECT_EQ(flags_to_string(0), "none");
  EXPECT_EQ(flags_to_string(SYN), "S");
  EXPECT_EQ(flags_to_string(SYN | ACK), "S.");
  EXPECT_EQ(flags_to_string(ACK), ".");
  EXPECT_EQ(flags_to_string(FIN | PSH | ACK), "FP.");
  EXPECT_EQ(flags_to_string(RST), "R");
  EXPECT_EQ(flags_to_string(RST | ACK), "R.");
  EXPECT_EQ(flags_to_string(SYN | ECE | CWR), "SEW");
}

TEST(TcpHeader, ReservedBitsAreWrittenZeroAndIgnoredOnInput) {
  auto b = from_hex(kLinuxData);
  b[12] = 0x8f;  // data offset 8, the four reserved bits set
  auto r = parse_tcp(b, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header_length, 32);
  std::vector<std::uint8_t> out(kTcpMaxHeader, 0xff);
  write_tcp_header(out, TcpHeaderFields{}, TcpOptions{}, kDefaultLayout);
  EXPECT_EQ(out[12], 0x50);
}

// --- checksum and lengths ------------------------------------------------------------------

TEST(TcpHeader, ChecksumIsVerifiedWithThePseudoHeader) {
  const auto good = from_hex(kLinuxData);
  // Every single-bit error in the segment is caught.
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto b = good;
      b[i] ^= static_cast<std::uint8_t>(1 << bit);
      auto r = parse_from_client(b);
      ASSERT_FALSE(r.ok()) << i << " " << bit;
      // Corrupting the data offset can make the header malformed before the sum is checked.
      if (i != 12) {
        EXPECT_EQ(r.error(), DropReason::tcp_bad_checksum) << i << " " << bit;
      }
    }
  }
  // The pseudo-header counts: other addresses, or the two swapped, do not verify.
  const PseudoHeaderV4 wrong_dst{kClient, kServer + 1};
  auto r = parse_tcp(good, &wrong_dst);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), DropReason::tcp_bad_checksum);
  const PseudoHeaderV4 swapped{kServer, kClient};
  EXPECT_TRUE(parse_tcp(good, &swapped).ok());  // the sum is commutative: same value
  const PseudoHeaderV4 wrong_src{0x0a630003, kServer};
  EXPECT_EQ(parse_tcp(good, &wrong_src).error(), DropReason::tcp_bad_checksum);
  // A zero checksum is not "no checksum" in TCP.
  auto zeroed = good;
  zeroed[16] = zeroed[17] = 0;
  EXPECT_EQ(parse_from_client(zeroed).error(), DropReason::tcp_bad_checksum);
  // Without a pseudo-header (a device verified it) the sum is not looked at.
  EXPECT_TRUE(parse_tcp(zeroed, nullptr).ok());
}

TEST(TcpHeader, ChecksumOfOddLengthSegment) {
  auto b = from_hex(kLinuxData);
  b.pop_back();  // "hello": 37 bytes
  finish_tcp_checksum_v4(b, kClient, kServer);
  EXPECT_EQ(load_be16(&b[16]), reference_tcp_checksum(kClient, kServer, b));
  auto r = parse_from_client(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->payload.size(), 5u);
}

TEST(TcpHeader, TruncatedBelowTwentyBytes) {
  const auto b = from_hex(kLinuxSyn);
  for (std::size_t n = 0; n < kTcpMinHeader; ++n) {
    auto r = parse_tcp({b.data(), n}, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DropReason::tcp_truncated) << n;
  }
}

TEST(TcpHeader, DataOffsetBelowFive) {
  for (std::uint8_t off = 0; off < 5; ++off) {
    auto b = from_hex(kLinuxSyn);
    b[12] = static_cast<std::uint8_t>(off << 4);
    auto r = parse_tcp(b, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), DropReason::tcp_bad_data_offset) << int{off};
  }
}

TEST(TcpHeader, DataOffsetPastTheSegment) {
  auto b = from_hex(kLinuxSyn);  // 40 bytes
  b[12] = 0xb0;                  // 44
  EXPECT_EQ(parse_tcp(b, nullptr).error(), DropReason::tcp_bad_data_offset);
  b.resize(24);
  b[12] = 0x60;  // 24: exactly the segment, no payload
  auto r = parse_tcp(b, nullptr);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_TRUE(r->payload.empty());
  EXPECT_TRUE(r->options.has_mss);
}

TEST(TcpHeader, MalformedOptionDropsTheSegment) {
  auto b = from_hex(kLinuxSyn);
  b[21] = 0;  // MSS option length 0
  EXPECT_EQ(parse_tcp(b, nullptr).error(), DropReason::tcp_bad_option_length);
}

// --- option parsing ------------------------------------------------------------------------

TEST(TcpOptionsParse, EmptyEolAndNops) {
  auto r = parse_hex_options("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, TcpOptions{});
  EXPECT_EQ(*parse_hex_options("00000000"), TcpOptions{});
  EXPECT_EQ(*parse_hex_options("01010101"), TcpOptions{});
  EXPECT_EQ(*parse_hex_options("01"), TcpOptions{});
}

TEST(TcpOptionsParse, EachKnownOption) {
  auto r = parse_hex_options("020405b4");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_mss);
  EXPECT_EQ(r->mss, 1460);

  r = parse_hex_options("0103030e");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_wscale);
  EXPECT_EQ(r->wscale, 14);

  r = parse_hex_options("04020000");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->sack_permitted);

  r = parse_hex_options("0101080a0102030405060708");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_timestamps);
  EXPECT_EQ(r->ts_val, 0x01020304u);
  EXPECT_EQ(r->ts_ecr, 0x05060708u);

  // Nothing else is set by one option.
  TcpOptions only_mss;
  only_mss.has_mss = true;
  only_mss.mss = 536;
  EXPECT_EQ(*parse_hex_options("02040218"), only_mss);
}

TEST(TcpOptionsParse, SackWithOneToFourBlocks) {
  for (int n = 1; n <= 4; ++n) {
    std::vector<std::uint8_t> b = {5, static_cast<std::uint8_t>(2 + 8 * n)};
    for (int k = 0; k < n; ++k) {
      std::uint8_t v[8];
      store_be32(v, 0xfffffff0u + static_cast<std::uint32_t>(100 * k));
      store_be32(v + 4, 0xfffffff0u + static_cast<std::uint32_t>(100 * k + 50));
      b.insert(b.end(), v, v + 8);
    }
    auto r = parse_options(b);
    ASSERT_TRUE(r.ok()) << n;
    ASSERT_EQ(r->sack_count, n);
    for (int k = 0; k < n; ++k) {
      EXPECT_EQ(r->sack[static_cast<std::size_t>(k)].left, Seq{0xfffffff0u + 100u * static_cast<std::uint32_t>(k)});
      EXPECT_EQ(r->sack[static_cast<std::size_t>(k)].right, Seq{0xfffffff0u + 100u * static_cast<std::uint32_t>(k) + 50u});
    }
  }
}

TEST(TcpOptionsParse, SackWithImpossibleLengthIsIgnored) {
  // 0 blocks, a length that is not 2 + 8n, and 5 blocks (42 bytes cannot be in a header,
  // but the parser must not write past its four blocks).
  EXPECT_EQ(parse_hex_options("0502")->sack_count, 0);
  EXPECT_EQ(parse_hex_options("050601020304")->sack_count, 0);
  std::vector<std::uint8_t> five(42, 0x11);
  five[0] = 5;
  five[1] = 42;
  auto r = parse_options(five);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sack_count, 0);
}

TEST(TcpOptionsParse, FastOpen) {  // RFC 7413 section 4.1.1
  auto r = parse_hex_options("22020000");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_fastopen);  // a cookie request
  EXPECT_EQ(r->fastopen_len, 0);

  r = parse_hex_options("2206a1b2c3d4");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_fastopen);
  ASSERT_EQ(r->fastopen_len, 4);
  EXPECT_EQ(r->fastopen_cookie[0], 0xa1);
  EXPECT_EQ(r->fastopen_cookie[3], 0xd4);

  r = parse_hex_options("2212000102030405060708090a0b0c0d0e0f");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_fastopen);
  ASSERT_EQ(r->fastopen_len, 16);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(r->fastopen_cookie[i], i);

  // Cookies of 1 to 3 bytes, odd lengths and more than 16 bytes are not cookies.
  for (std::string_view bad : {"2203aa", "2204aabb", "2205aabbcc", "2207aabbccddee",
                               "2213000102030405060708090a0b0c0d0e0f10",
                               "2214000102030405060708090a0b0c0d0e0f1011"}) {
    auto x = parse_hex_options(bad);
    ASSERT_TRUE(x.ok()) << bad;
    EXPECT_FALSE(x->has_fastopen) << bad;
  }
}

TEST(TcpOptionsParse, UnknownKindsAreSkippedByLength) {  // MUST-6
  // MPTCP (30) with 6 bytes, an experimental option (254) with 4, kind 99 with only a length:
  // all skipped, and the MSS after them is still found.
  auto r = parse_hex_options("1e06aabbccdd" "fe04f989" "6302" "020405b4");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_mss);
  EXPECT_EQ(r->mss, 1460);
  // The obsolete echo (6) and echo-reply (7) options, and MD5 (19, 18 bytes).
  r = parse_hex_options("060401020704030413120102030405060708090a0b0c0d0e0f10" "01030307" "03030501");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_wscale);
  EXPECT_EQ(r->wscale, 5);  // a later duplicate replaces the first
}

TEST(TcpOptionsParse, MalformedLengthsAreRejected) {  // MUST-7
  for (std::string_view bad : {
           "02",            // MSS without a length byte
           "0200",          // length 0
           "0201",          // length 1
           "020405",        // runs past the end by one
           "0101080a0102",  // timestamps running past the end
           "1e00",          // an unknown kind with length 0
           "fe01aaaa",      // an unknown kind with length 1
           "fe",            // an unknown kind without a length byte
           "01010101fe09000000",  // running past, after NOPs
           "020405b4ff",    // a good option, then a kind without its length
       }) {
    auto r = parse_hex_options(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error(), DropReason::tcp_bad_option_length) << bad;
  }
}

TEST(TcpOptionsParse, OptionsAtUnalignedOffsets) {  // MUST-64
  // wscale at 0, MSS at 3, timestamps at 7, sackOK at 17, SACK at 19: no alignment at all.
  auto r = parse_hex_options("030307" "02040218" "080a0000000100000002" "0402" "050a0000006400000096" "00");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_wscale);
  EXPECT_EQ(r->wscale, 7);
  EXPECT_EQ(r->mss, 536);
  EXPECT_EQ(r->ts_val, 1u);
  EXPECT_EQ(r->ts_ecr, 2u);
  EXPECT_TRUE(r->sack_permitted);
  ASSERT_EQ(r->sack_count, 1);
  EXPECT_EQ(r->sack[0].left, Seq{100});
  EXPECT_EQ(r->sack[0].right, Seq{150});
}

TEST(TcpOptionsParse, KnownKindWithWrongLengthIsIgnored) {
  // Each is skipped by its own length, and a valid option after it is still parsed.
  struct Case {
    std::string_view hex;
    bool TcpOptions::*flag;
  };
  const Case cases[] = {
      {"0203aa", &TcpOptions::has_mss},
      {"0205aabbcc", &TcpOptions::has_mss},
      {"0302", &TcpOptions::has_wscale},
      {"0304aabb", &TcpOptions::has_wscale},
      {"0403aa", &TcpOptions::sack_permitted},
      {"080900000001000000", &TcpOptions::has_timestamps},
      {"080b000000010000000200", &TcpOptions::has_timestamps},
  };
  for (const Case& c : cases) {
    // Followed by a Fast Open cookie request, which must still be seen.
    auto r = parse_hex_options(std::string(c.hex) + "2202");
    ASSERT_TRUE(r.ok()) << c.hex;
    EXPECT_FALSE((*r).*(c.flag)) << c.hex;
    EXPECT_TRUE(r->has_fastopen) << c.hex;
  }
  auto r = parse_hex_options("0403aa" "020405b4");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->sack_permitted);
  EXPECT_TRUE(r->has_mss);
}

TEST(TcpOptionsParse, RepeatedOptionReplacesTheEarlierOneEntirely) {
  // Three SACK blocks, then one: the value is that of a single one-block option, with no
  // blocks of the first lingering (they would make equal options compare unequal).
  auto r = parse_hex_options("0101051a000000010000000200000003000000040000000500000006"
                             "0101050a0000000a00000014");
  ASSERT_TRUE(r.ok());
  TcpOptions one;
  one.sack_count = 1;
  one.sack[0] = {Seq{10}, Seq{20}};
  EXPECT_EQ(*r, one);
  // The same for a Fast Open cookie followed by a shorter one.
  r = parse_hex_options("220a0102030405060708" "2206aabbccdd");
  ASSERT_TRUE(r.ok());
  TcpOptions fo;
  fo.has_fastopen = true;
  fo.fastopen_len = 4;
  fo.fastopen_cookie = {0xaa, 0xbb, 0xcc, 0xdd};
  EXPECT_EQ(*r, fo);
}

TEST(TcpOptionsParse, BytesAfterEolAreIgnored) {
  auto r = parse_hex_options("00020405b4");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_mss);
  // Even bytes that would be malformed as options.
  r = parse_hex_options("020405b4" "00" "0200ff");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_mss);
}

// --- option writing ------------------------------------------------------------------------

TcpOptions syn_options(std::uint32_t ts_val) {
  TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.has_wscale = true;
  o.wscale = 6;
  o.sack_permitted = true;
  o.has_timestamps = true;
  o.ts_val = ts_val;
  o.ts_ecr = 0;
  return o;
}

std::vector<std::uint8_t> write_all(const TcpOptions& o, const OptionLayout& layout = kDefaultLayout) {
  std::vector<std::uint8_t> out(kTcpMaxOptions + 8, 0xee);  // 8 guard bytes
  const std::size_t n = write_options(out, o, layout);
  EXPECT_EQ(n, options_wire_length(o, layout));
  EXPECT_LE(n, kTcpMaxOptions);
  EXPECT_EQ(n % 4, 0u);
  for (std::size_t i = kTcpMaxOptions; i < out.size(); ++i) EXPECT_EQ(out[i], 0xee) << "overflow at " << i;
  for (std::size_t i = n; i < kTcpMaxOptions; ++i) EXPECT_EQ(out[i], 0xee) << "wrote past the length at " << i;
  out.resize(n);
  return out;
}

TEST(TcpOptionsWrite, DefaultLayoutGivesFreeBsdSynBytes) {
  // <mss 1460,nop,wscale 6,sackOK,TS val ecr>: 20 bytes, no padding needed.
  EXPECT_EQ(write_all(syn_options(0x11223344)),
            from_hex("020405b4" "01030306" "0402" "080a1122334400000000"));
}

TEST(TcpOptionsWrite, FastOpenCookieIsPaddedWithEolAndZeros) {  // MUST-69
  TcpOptions o = syn_options(7);
  o.has_fastopen = true;
  o.fastopen_len = 8;
  for (std::uint8_t i = 0; i < 8; ++i) o.fastopen_cookie[i] = static_cast<std::uint8_t>(0xc1 + i);
  EXPECT_EQ(write_all(o), from_hex("020405b4" "01030306" "0402" "080a0000000700000000"
                                   "220ac1c2c3c4c5c6c7c8" "0000"));
  o.fastopen_len = 0;  // a cookie request
  EXPECT_EQ(write_all(o), from_hex("020405b4" "01030306" "0402" "080a0000000700000000" "2202" "0000"));
  o.fastopen_len = 16;  // 20 + 18 = 38 bytes, two of padding: the whole 40
  const auto b = write_all(o);
  ASSERT_EQ(b.size(), 40u);
  EXPECT_EQ(b[20], 34);
  EXPECT_EQ(b[21], 18);
  EXPECT_EQ(b[38], 0);
  EXPECT_EQ(b[39], 0);
}

TEST(TcpOptionsWrite, SackBlocksAfterTimestampsAreAligned) {
  TcpOptions o;
  o.has_timestamps = true;
  o.ts_val = 1;
  o.ts_ecr = 2;
  o.sack_count = 1;
  o.sack[0] = {Seq{100}, Seq{200}};
  EXPECT_EQ(write_all(o), from_hex("0101080a0000000100000002" "0101050a00000064000000c8"));
  o.sack_count = 3;  // 12 + 2 + 26 = 40: exactly full
  EXPECT_EQ(write_all(o).size(), 40u);
}

TEST(TcpOptionsWrite, EmptyOptionsWriteNothing) {
  EXPECT_TRUE(write_all(TcpOptions{}).empty());
  std::vector<std::uint8_t> out(kTcpMaxHeader, 0xee);
  EXPECT_EQ(write_tcp_header(out, TcpHeaderFields{}, TcpOptions{}, kDefaultLayout), 20u);
}

TEST(TcpOptionsWrite, EveryEmittedOptionButEolAndNopHasALength) {  // MUST-68, MUST-69
  std::mt19937 rng(7);
  for (int iter = 0; iter < 500; ++iter) {
    TcpOptions o;
    o.has_mss = rng() & 1;
    o.has_wscale = rng() & 1;
    o.sack_permitted = rng() & 1;
    o.has_timestamps = rng() & 1;
    o.has_fastopen = rng() & 1;
    const std::uint8_t lens[] = {0, 4, 6, 8, 10, 12, 14, 16};
    o.fastopen_len = o.has_fastopen ? lens[rng() % 8] : 0;
    o.sack_count = static_cast<std::uint8_t>(rng() % 5);
    const auto b = write_all(o);
    std::size_t i = 0;
    while (i < b.size()) {
      if (b[i] == 0) {
        for (std::size_t k = i; k < b.size(); ++k) ASSERT_EQ(b[k], 0) << "non-zero after EOL";
        break;
      }
      if (b[i] == 1) {
        ++i;
        continue;
      }
      ASSERT_LT(i + 1, b.size());
      ASSERT_GE(b[i + 1], 2);
      ASSERT_LE(i + b[i + 1], b.size());
      i += b[i + 1];
    }
  }
}

TEST(TcpOptionsWrite, OptionsThatDoNotFitAreLeftOut) {
  TcpOptions o = syn_options(1);
  o.has_fastopen = true;
  o.fastopen_len = 16;
  o.sack_count = 4;  // 34 bytes of SACK cannot follow 20 bytes of SYN options
  for (std::size_t k = 0; k < 4; ++k) o.sack[k] = {Seq{static_cast<std::uint32_t>(k)}, Seq{static_cast<std::uint32_t>(k + 1)}};
  const auto b = write_all(o);
  auto r = parse_options(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sack_count, 0);
  EXPECT_TRUE(r->has_fastopen);  // a later option that still fits is kept
  EXPECT_EQ(r->fastopen_len, 16);
  EXPECT_TRUE(r->has_mss && r->has_wscale && r->sack_permitted && r->has_timestamps);

  // With timestamps, four SACK blocks do not fit (12 + 2 + 34 > 40); three do.
  TcpOptions t;
  t.has_timestamps = true;
  t.sack_count = 4;
  auto four = parse_options(write_all(t));
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(four->sack_count, 0);
  EXPECT_TRUE(four->has_timestamps);
}

TEST(TcpOptionsWrite, ValuesOutsideWhatTheWireCanCarryAreNotWritten) {
  // A cookie longer than 16 bytes (or of odd length) is not a Fast Open cookie, and a SACK
  // with more than four blocks does not exist: the writer leaves them out rather than read
  // past its arrays or emit what the parser would ignore.
  for (std::uint8_t len : {1, 2, 3, 5, 17, 18, 20, 38, 255}) {
    TcpOptions o;
    o.has_fastopen = true;
    o.fastopen_len = len;
    const auto b = write_all(o);
    EXPECT_TRUE(b.empty()) << int{len};
  }
  for (std::uint8_t n : {5, 6, 255}) {
    TcpOptions o;
    o.sack_count = n;
    EXPECT_TRUE(write_all(o).empty()) << int{n};
  }
}

TEST(TcpOptionsWrite, LayoutsWithDegeneratePlacementsTerminate) {
  // A placement of modulus 0 or with a remainder not below its modulus cannot be met: the
  // option is written where it falls rather than looping or dividing by zero.
  TcpOptions o;
  o.has_mss = true;
  o.mss = 1000;
  o.has_wscale = true;
  o.wscale = 3;
  const OptionLayout odd = OptionLayout::of({{OptionKind::mss, 0, 0}, {OptionKind::wscale, 2, 5}});
  const auto b = write_all(o, odd);
  auto r = parse_options(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->mss, 1000);
  EXPECT_EQ(r->wscale, 3);
}

TEST(TcpOptionsWrite, RoundTripOfRandomOptions) {
  std::mt19937 rng(2024);
  auto maybe = [&] { return (rng() & 1) != 0; };
  for (int iter = 0; iter < 5000; ++iter) {
    TcpOptions o;
    if (maybe()) {
      o.has_mss = true;
      o.mss = static_cast<std::uint16_t>(rng());
    }
    if (maybe()) {
      o.has_wscale = true;
      o.wscale = static_cast<std::uint8_t>(rng());
    }
    o.sack_permitted = maybe();
    if (maybe()) {
      o.has_timestamps = true;
      o.ts_val = static_cast<std::uint32_t>(rng());
      o.ts_ecr = static_cast<std::uint32_t>(rng());
    }
    if (maybe()) {
      o.has_fastopen = true;
      const std::uint8_t lens[] = {0, 4, 6, 8, 10, 12, 14, 16};
      o.fastopen_len = lens[rng() % 8];
      for (std::size_t i = 0; i < o.fastopen_len; ++i) o.fastopen_cookie[i] = static_cast<std::uint8_t>(rng());
    }
    if (iter % 2 == 0) {
      o.sack_count = static_cast<std::uint8_t>(rng() % 5);
      for (std::size_t i = 0; i < o.sack_count; ++i) {
        o.sack[i] = {Seq{static_cast<std::uint32_t>(rng())}, Seq{static_cast<std::uint32_t>(rng())}};
      }
    }
    const auto b = write_all(o);
    auto r = parse_options(b);
    ASSERT_TRUE(r.ok()) << iter;
    const TcpOptions& p = *r;
    // Whatever was written comes back exactly; whatever is missing was left out for room.
    if (p.has_mss) {
      EXPECT_EQ(p.mss, o.mss);
    }
    if (p.has_wscale) {
      EXPECT_EQ(p.wscale, o.wscale);
    }
    if (p.has_timestamps) {
      EXPECT_EQ(std::pair(p.ts_val, p.ts_ecr), std::pair(o.ts_val, o.ts_ecr));
    }
    if (p.has_fastopen) {
      ASSERT_EQ(p.fastopen_len, o.fastopen_len);
      EXPECT_EQ(p.fastopen_cookie, o.fastopen_cookie);
    }
    if (p.sack_count > 0) {
      ASSERT_EQ(p.sack_count, o.sack_count);
      EXPECT_EQ(p.sack, o.sack);
    }
    EXPECT_LE(p.has_mss, o.has_mss);
    EXPECT_LE(p.has_wscale, o.has_wscale);
    EXPECT_LE(p.sack_permitted, o.sack_permitted);
    EXPECT_LE(p.has_timestamps, o.has_timestamps);
    EXPECT_LE(p.has_fastopen, o.has_fastopen);
    // Without SACK blocks everything fits (at most 38 bytes), and so do SACK blocks alone.
    const bool only_sack = !o.has_mss && !o.has_wscale && !o.sack_permitted && !o.has_timestamps &&
                           !o.has_fastopen;
    if (o.sack_count == 0 || only_sack) {
      EXPECT_EQ(p, o) << options_to_string(o);
    }
  }
}

TEST(TcpOptionsWrite, OptionsToString) {
  TcpOptions o = syn_options(5);
  o.sack_count = 2;
  o.sack[0] = {Seq{1}, Seq{2}};
  o.sack[1] = {Seq{10}, Seq{20}};
  o.has_fastopen = true;
  o.fastopen_len = 4;
  o.fastopen_cookie = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(options_to_string(o),
            "mss 1460,wscale 6,sackOK,TS val 5 ecr 0,sack 1:2 10:20,FO deadbeef");
  o = TcpOptions{};
  o.has_fastopen = true;
  EXPECT_EQ(options_to_string(o), "FO");
  EXPECT_EQ(options_to_string(TcpOptions{}), "");
}

TEST(TcpHeader, WriteThenParseEveryField) {
  TcpHeaderFields f;
  f.src_port = 65535;
  f.dst_port = 1;
  f.seq = Seq{0xffffffffu};
  f.ack = Seq{0x80000000u};
  f.flags = SYN | ACK | ECE;
  f.window = 0;
  f.urgent = 0xabcd;
  TcpOptions o = syn_options(99);
  std::vector<std::uint8_t> out(kTcpMaxHeader + 3, 0xee);
  const std::size_t hl = write_tcp_header(out, f, o, kDefaultLayout);
  ASSERT_EQ(hl, 40u);
  out.resize(hl + 3);
  out[hl] = 'a';
  out[hl + 1] = 'b';
  out[hl + 2] = 'c';
  finish_tcp_checksum_v4(out, 0xc0000201, 0xc6336407);
  EXPECT_EQ(load_be16(&out[16]), reference_tcp_checksum(0xc0000201, 0xc6336407, out));
  const PseudoHeaderV4 ph{0xc0000201, 0xc6336407};
  auto r = parse_tcp(out, &ph);
  ASSERT_TRUE(r.ok()) << to_string(r.error());
  EXPECT_EQ(r->src_port, 65535);
  EXPECT_EQ(r->dst_port, 1);
  EXPECT_EQ(r->seq, f.seq);
  EXPECT_EQ(r->ack, f.ack);
  EXPECT_EQ(r->flags, f.flags);
  EXPECT_EQ(r->window, 0);
  EXPECT_EQ(r->urgent, 0xabcd);
  EXPECT_EQ(r->options, o);
  EXPECT_EQ(std::string(r->payload.begin(), r->payload.end()), "abc");
}

}  // namespace
}  // namespace synfin::wire

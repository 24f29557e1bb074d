// Initial sequence numbers (RFC 9293 section 3.4.1, RFC 6528): ISN = M + F(4-tuple, secret)
// with M a clock ticking every 4 microseconds (MUST-8) and F SipHash-2-4 keyed with a
// secret outsiders do not know (MUST-9, SHLD-1).
#include <bit>
#include <set>

#include "tcp/harness.hpp"
#include "tcp/isn.hpp"

namespace synfin::test {
namespace {

using tcp::FourTuple;
using tcp::IsnGenerator;

constexpr std::array<std::uint8_t, 16> kKey = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

// The reference vectors of the SipHash paper (Aumasson and Bernstein, appendix A, and the
// reference implementation's vectors_sip64): key 00..0f, message 00..(n-1) for n = 0..63.
constexpr std::uint64_t kSipHashVectors[64] = {
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
    0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
    0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
    0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
    0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
    0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
    0x7127512f72f27cce, 0xa7f32346f95978e3, 0x12e0b01abb051238, 0x15e034d40fa197ae,
    0x314dffbe0815a3b4, 0x027990f029623981, 0xcadcd4e59ef40c4d, 0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0, 0xad0c42d6fc585992, 0x187306c89bc215a9, 0xd4a60abcf3792b95,
    0xf935451de4f21df2, 0xa9538f0419755787, 0xdb9acddff56ca510, 0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951, 0xc766e62cfcadaf96, 0xee64435a9752fe72, 0xa192d576b245165a,
    0x0a8787bf8ecb74b2, 0x81b3e73d20b49b6f, 0x7fa8220ba3b2ecea, 0x245731c13ca42499,
    0xb78dbfaf3a8d83bd, 0xea1ad565322a1a0b, 0x60e61c23a3795013, 0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1, 0x9f626da15c9625f3, 0xe51b38608ef25f57, 0x958a324ceb064572,
};

TEST(SipHash, PaperExamples) {
  std::uint8_t msg[15];
  for (int i = 0; i < 15; ++i) msg[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(tcp::siphash24(kKey, {}), 0x726fdb47dd0e0e31u);
  EXPECT_EQ(tcp::siphash24(kKey, msg), 0xa129ca6149be45e5u);
}

TEST(SipHash, ReferenceVectorTable) {
  std::uint8_t msg[64];
  for (int i = 0; i < 64; ++i) msg[i] = static_cast<std::uint8_t>(i);
  for (std::size_t n = 0; n < 64; ++n) {
    EXPECT_EQ(tcp::siphash24(kKey, std::span<const std::uint8_t>(msg, n)), kSipHashVectors[n])
        << "message length " << n;
  }
}

const FourTuple kTuple{0x0a000001, 0x0a000002, 4000, 80};

TEST(Isn, Must8_AdvancesOneTickPer4Microseconds) {
  const IsnGenerator g(kKey);
  const Instant t0 = at(5000s);
  const Seq a = g.isn(kTuple, t0);
  EXPECT_EQ(g.isn(kTuple, t0 + 4us).since(a), 1u);
  EXPECT_EQ(g.isn(kTuple, t0 + 3us).since(a), 0u);
  EXPECT_EQ(g.isn(kTuple, t0 + 1s).since(a), 250000u);
  EXPECT_EQ(g.isn(kTuple, t0 + 1h).since(a), 900000000u);
  // The clock wraps modulo 2^32 ticks (about 4.77 hours).
  EXPECT_EQ(g.isn(kTuple, t0 + Duration{4LL << 32}), a);
}

TEST(Isn, Must8_ConnectionsOnTheSameTupleLaterStartHigher) {
  Harness a;
  a.to_syn_sent();
  Harness b;  // the same secret and 4-tuple, 2.5 s later
  b.set_now(b.now() + 2500ms);
  b.to_syn_sent();
  EXPECT_EQ(b.iss().since(a.iss()), 625000u);
}

TEST(Isn, Must9_Shld1_DifferentTuplesGiveUnrelatedValues) {
  const IsnGenerator g(kKey);
  const Instant t = at(100s);
  std::set<std::uint32_t> seen;
  std::uint32_t prev = g.isn(kTuple, t).raw();
  int bits = 0;
  for (std::uint16_t port = 1; port <= 1000; ++port) {
    FourTuple u = kTuple;
    u.remote_port = port;
    const std::uint32_t v = g.isn(u, t).raw();
    seen.insert(v);
    bits += std::popcount(v ^ prev);
    prev = v;
  }
  EXPECT_EQ(seen.size(), 1000u);
  // Neighbouring ports differ in about half of the 32 bits, as a PRF's outputs do.
  EXPECT_GT(bits, 1000 * 14);
  EXPECT_LT(bits, 1000 * 18);
}

TEST(Isn, Must9_DifferentSecretsGiveDifferentValues) {
  std::array<std::uint8_t, 16> other = kKey;
  other[15] ^= 1;
  const IsnGenerator g1(kKey), g2(other);
  const Instant t = at(100s);
  const std::uint32_t d = g1.isn(kTuple, t).raw() ^ g2.isn(kTuple, t).raw();
  EXPECT_GE(std::popcount(d), 6);  // one key bit flips many ISN bits
  // And the keyed part is the whole difference: both still tick with the same clock.
  EXPECT_EQ(g1.isn(kTuple, t + 1s).since(g1.isn(kTuple, t)),
            g2.isn(kTuple, t + 1s).since(g2.isn(kTuple, t)));
}

TEST(Isn, EveryFieldOfTheTupleMatters) {
  const IsnGenerator g(kKey);
  const Instant t = at(100s);
  const Seq base = g.isn(kTuple, t);
  FourTuple a = kTuple, b = kTuple, c = kTuple, d = kTuple;
  a.local_addr ^= 1;
  b.remote_addr ^= 1;
  c.local_port ^= 1;
  d.remote_port ^= 1;
  for (const FourTuple& u : {a, b, c, d}) EXPECT_NE(g.isn(u, t), base);
}

}  // namespace
}  // namespace synfin::test

// Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4), across the wrap.
#include <gtest/gtest.h>

#include "wire/seq.hpp"

namespace synfin::wire {
namespace {

TEST(Seq, OrdersAcrossTheWrap) {
  const Seq a{0xfffffff0u};
  const Seq b = a + 0x20;  // wraps to 0x10
  EXPECT_EQ(b.raw(), 0x10u);
  EXPECT_LT(a, b);
  EXPECT_GT(b, a);
  EXPECT_LE(a, a);
  EXPECT_EQ(b - a, 0x20);
  EXPECT_EQ(a - b, -0x20);
  EXPECT_EQ(b.since(a), 0x20u);
}

TEST(Seq, HalfSpaceBoundary) {
  const Seq a{100};
  EXPECT_LT(a, a + 0x7fffffffu);
  EXPECT_GT(a, a + 0x80000001u);  // more than half the space ahead reads as behind
}

TEST(Seq, WindowTestsAcrossTheWrap) {
  const Seq left{0xffffff00u};
  EXPECT_TRUE(in_window(left, left, 1));
  EXPECT_FALSE(in_window(left, left, 0));
  EXPECT_TRUE(in_window(Seq{0x10}, left, 0x200));
  EXPECT_FALSE(in_window(Seq{0x100}, left, 0x200));  // exactly the right edge: outside
  EXPECT_TRUE(in_window(Seq{0xff}, left, 0x200));
  EXPECT_FALSE(in_window(left - 1, left, 0x200));
}

TEST(Seq, RangeTests) {
  const Seq l{0xfffffffeu};
  const Seq r = l + 4;
  EXPECT_TRUE(in_range(l, l, r));
  EXPECT_TRUE(in_range(r, l, r));
  EXPECT_TRUE(in_range(Seq{0}, l, r));
  EXPECT_FALSE(in_range(r + 1, l, r));
  EXPECT_FALSE(in_range(l - 1, l, r));
  EXPECT_EQ(seq_max(l, r), r);
  EXPECT_EQ(seq_min(l, r), l);
}

}  // namespace
}  // namespace synfin::wire

// The receive/send ring buffer (allocation on first use, wrap-around, write-ahead for
// out-of-order data, release when empty) and the out-of-order range assembler.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "storage/assembler.hpp"
#include "storage/ring_buffer.hpp"

namespace synfin::storage {
namespace {

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string read_string(RingBuffer& r, std::size_t n) {
  std::string s(n, '\0');
  const std::uint32_t got = r.read({reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  s.resize(got);
  return s;
}

std::string peek_string(const RingBuffer& r, std::uint32_t offset, std::size_t n) {
  std::string s(n, '\0');
  const std::uint32_t got = r.peek(offset, {reinterpret_cast<std::uint8_t*>(s.data()), s.size()});
  s.resize(got);
  return s;
}

std::string join(std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> p) {
  std::string s(p.first.begin(), p.first.end());
  s.append(p.second.begin(), p.second.end());
  return s;
}

TEST(RingBuffer, AllocatesOnFirstWriteOnly) {
  RingBuffer r(16);
  EXPECT_EQ(r.capacity(), 16u);
  EXPECT_FALSE(r.allocated());
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.free_space(), 16u);
  EXPECT_EQ(r.write({}), 0u);
  EXPECT_FALSE(r.allocated());  // an empty write costs nothing
  EXPECT_EQ(r.write(bytes_of("abc")), 3u);
  EXPECT_TRUE(r.allocated());
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(r.free_space(), 13u);
}

TEST(RingBuffer, WriteTakesOnlyWhatFits) {
  RingBuffer r(8);
  EXPECT_EQ(r.write(bytes_of("0123456789")), 8u);
  EXPECT_EQ(r.free_space(), 0u);
  EXPECT_EQ(r.write(bytes_of("x")), 0u);
  EXPECT_EQ(read_string(r, 100), "01234567");
  EXPECT_TRUE(r.empty());
}

TEST(RingBuffer, ZeroCapacityHoldsNothing) {
  RingBuffer r;
  EXPECT_EQ(r.write(bytes_of("abc")), 0u);
  EXPECT_EQ(r.write_ahead(0, bytes_of("abc")), 0u);
  EXPECT_FALSE(r.allocated());
  EXPECT_EQ(read_string(r, 3), "");
}

TEST(RingBuffer, WrapsAround) {
  RingBuffer r(8);
  ASSERT_EQ(r.write(bytes_of("abcdef")), 6u);
  EXPECT_EQ(read_string(r, 5), "abcde");
  ASSERT_EQ(r.write(bytes_of("ghijklm")), 7u);  // "f" at 5, then 6, 7, 0..4
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(peek_string(r, 0, 8), "fghijklm");
  auto [a, b] = r.slices(0, 8);
  EXPECT_EQ(std::string(a.begin(), a.end()), "fgh");  // up to the end of the memory
  EXPECT_EQ(std::string(b.begin(), b.end()), "ijklm");
  EXPECT_EQ(join(r.slices(2, 4)), "hijk");
  auto [c, d] = r.slices(3, 5);  // entirely after the wrap: one span
  EXPECT_EQ(std::string(c.begin(), c.end()), "ijklm");
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(read_string(r, 8), "fghijklm");
}

TEST(RingBuffer, PeekDoesNotConsume) {
  RingBuffer r(10);
  r.write(bytes_of("hello"));
  EXPECT_EQ(peek_string(r, 0, 5), "hello");
  EXPECT_EQ(peek_string(r, 1, 3), "ell");
  EXPECT_EQ(peek_string(r, 3, 100), "lo");  // only what is there
  EXPECT_EQ(peek_string(r, 5, 1), "");      // at the end
  EXPECT_EQ(peek_string(r, 50, 1), "");     // past it
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(read_string(r, 5), "hello");
}

TEST(RingBuffer, ConsumeIsBoundedBySize) {
  RingBuffer r(10);
  r.write(bytes_of("hello"));
  EXPECT_EQ(r.consume(2), 2u);
  EXPECT_EQ(peek_string(r, 0, 10), "llo");
  EXPECT_EQ(r.consume(100), 3u);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.consume(1), 0u);
}

TEST(RingBuffer, WriteAheadThenCommit) {
  RingBuffer r(10);
  r.write(bytes_of("ab"));
  // Out of order: bytes 4..5 past the readable end arrive before 0..3.
  EXPECT_EQ(r.write_ahead(4, bytes_of("gh")), 2u);
  EXPECT_EQ(r.size(), 2u);  // not readable yet
  EXPECT_EQ(peek_string(r, 0, 10), "ab");
  EXPECT_EQ(r.write_ahead(0, bytes_of("cdef")), 4u);
  r.commit(6);
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(read_string(r, 10), "abcdefgh");
}

TEST(RingBuffer, WriteAheadIsCutAtCapacity) {
  RingBuffer r(8);
  r.write(bytes_of("abc"));  // 5 free
  EXPECT_EQ(r.write_ahead(3, bytes_of("vwxyz")), 2u);  // offsets 3, 4 of the free space
  EXPECT_EQ(r.write_ahead(5, bytes_of("z")), 0u);      // beyond the capacity
  EXPECT_EQ(r.write_ahead(100, bytes_of("z")), 0u);
  r.commit(100);  // never more than the capacity
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(peek_string(r, 6, 2), "vw");
}

TEST(RingBuffer, WriteAheadAcrossTheWrap) {
  RingBuffer r(8);
  r.write(bytes_of("xxxxxx"));
  r.consume(6);  // empty again: the head returns to 0
  r.write(bytes_of("xxxxx"));
  r.consume(4);  // head at 4, one byte readable
  // Offsets count from the readable end: offset 0 is the byte right after it.
  EXPECT_EQ(r.write_ahead(0, bytes_of("abcdef")), 6u);  // at 5, 6, 7, 0, 1, 2
  r.commit(6);
  EXPECT_EQ(peek_string(r, 0, 7), "xabcdef");
  EXPECT_EQ(join(r.slices(1, 6)), "abcdef");
}

TEST(RingBuffer, ReleaseFreesMemoryOnlyWhenEmpty) {
  RingBuffer r(16);
  r.write(bytes_of("data"));
  r.release();
  EXPECT_TRUE(r.allocated());  // still holding data: kept
  EXPECT_EQ(read_string(r, 4), "data");
  r.release();
  EXPECT_FALSE(r.allocated());
  EXPECT_EQ(r.capacity(), 16u);
  // Usable again afterwards, from a fresh allocation.
  EXPECT_EQ(r.write(bytes_of("more")), 4u);
  EXPECT_EQ(read_string(r, 4), "more");
}

TEST(RingBuffer, ReleasedMemoryIsReusedThroughACache) {
  BufferCache cache;
  RingBuffer a(64 * 1024), b(64 * 1024), small(16);
  a.write(bytes_of("data"));
  a.release(&cache);
  EXPECT_EQ(cache.blocks(), 0u);  // still holding data: kept
  EXPECT_EQ(read_string(a, 4), "data");
  a.release(&cache);
  EXPECT_FALSE(a.allocated());
  EXPECT_EQ(cache.blocks(), 1u);
  small.reserve_from(&cache);  // a block of another size is no use to it
  EXPECT_FALSE(small.allocated());
  b.reserve_from(&cache);  // 4 KiB, as its first allocation would be
  EXPECT_TRUE(b.allocated());
  EXPECT_EQ(cache.blocks(), 0u);
  EXPECT_EQ(b.write(bytes_of("more")), 4u);
  EXPECT_EQ(read_string(b, 4), "more");
  // The cache keeps blocks up to its byte budget; more are freed.
  constexpr std::size_t kFit = BufferCache::kMaxBytes / 4096;
  for (std::size_t i = 0; i < kFit + 10; ++i) {
    RingBuffer r(4096);
    r.write(bytes_of("x"));
    r.consume(1);
    r.release(&cache);
  }
  EXPECT_EQ(cache.blocks(), kFit);
  EXPECT_EQ(cache.bytes(), BufferCache::kMaxBytes);
}

TEST(RingBuffer, TheCacheHandsBackTheBlockGivenLastOfTheRightSize) {
  BufferCache cache;
  auto a = std::make_unique<std::uint8_t[]>(4096);
  auto b = std::make_unique<std::uint8_t[]>(4096);
  auto big = std::make_unique<std::uint8_t[]>(8192);
  const std::uint8_t* pa = a.get();
  const std::uint8_t* pb = b.get();
  const std::uint8_t* pbig = big.get();
  cache.give(std::move(a), 4096);
  cache.give(std::move(big), 8192);
  cache.give(std::move(b), 4096);
  EXPECT_EQ(cache.blocks(), 3u);
  EXPECT_EQ(cache.take(4096).get(), pb);  // the last given first
  EXPECT_EQ(cache.take(8192).get(), pbig);
  EXPECT_EQ(cache.take(4096).get(), pa);
  EXPECT_EQ(cache.take(4096), nullptr);
  EXPECT_EQ(cache.blocks(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(RingBuffer, SetCapacityOnlyWhenEmpty) {
  RingBuffer r(4);
  r.write(bytes_of("ab"));
  EXPECT_FALSE(r.set_capacity(64));
  EXPECT_EQ(r.capacity(), 4u);
  EXPECT_EQ(read_string(r, 2), "ab");
  EXPECT_TRUE(r.set_capacity(64));
  EXPECT_EQ(r.capacity(), 64u);
  EXPECT_FALSE(r.allocated());  // the old memory went with the old capacity
  const std::string big(64, 'z');
  EXPECT_EQ(r.write(bytes_of(big)), 64u);
  EXPECT_EQ(read_string(r, 64), big);
}

TEST(RingBuffer, MatchesAQueueUnderRandomOperations) {
  std::mt19937 rng(42);
  RingBuffer r(37);  // a capacity that does not divide the write sizes
  std::string model;
  std::uint8_t next = 0;
  for (int i = 0; i < 20000; ++i) {
    if (rng() % 2) {
      std::string chunk(rng() % 20, '\0');
      for (char& c : chunk) c = static_cast<char>(next++);
      const std::uint32_t n = r.write(bytes_of(chunk));
      ASSERT_EQ(n, std::min<std::size_t>(chunk.size(), 37 - model.size()));
      next = static_cast<std::uint8_t>(next - (chunk.size() - n));
      model += chunk.substr(0, n);
    } else {
      const std::size_t n = rng() % 20;
      const std::string got = read_string(r, n);
      ASSERT_EQ(got, model.substr(0, n));
      model.erase(0, got.size());
    }
    ASSERT_EQ(r.size(), model.size());
    if (r.empty() && rng() % 4 == 0) r.release();
  }
}

// --- Assembler -----------------------------------------------------------------------------

using Range = Assembler::Range;

std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges_of(const Assembler& a) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> v;
  for (const Range& r : a.ranges()) v.emplace_back(r.start, r.end);
  return v;
}

using Pairs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

TEST(Assembler, EmptyRangesAreNoOps) {
  Assembler a;
  EXPECT_TRUE(a.add(5, 5));
  EXPECT_TRUE(a.add(9, 3));
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.contiguous(), 0u);
}

TEST(Assembler, DisjointRangesStaySortedAndApart) {
  Assembler a;
  EXPECT_TRUE(a.add(20, 30));
  EXPECT_TRUE(a.add(0, 5));
  EXPECT_TRUE(a.add(10, 15));
  EXPECT_EQ(ranges_of(a), (Pairs{{0, 5}, {10, 15}, {20, 30}}));
  EXPECT_EQ(a.contiguous(), 5u);
}

TEST(Assembler, AdjacentRangesMerge) {
  Assembler a;
  a.add(10, 20);
  a.add(20, 30);  // touching the end
  a.add(5, 10);   // touching the start
  EXPECT_EQ(ranges_of(a), (Pairs{{5, 30}}));
}

TEST(Assembler, OverlapsMergeInAnyOrder) {
  Assembler a;
  a.add(10, 20);
  a.add(30, 40);
  a.add(50, 60);
  a.add(15, 55);  // bridges all three
  EXPECT_EQ(ranges_of(a), (Pairs{{10, 60}}));
  a.add(12, 18);  // inside: nothing changes
  EXPECT_EQ(ranges_of(a), (Pairs{{10, 60}}));
  a.add(0, 100);  // covers everything
  EXPECT_EQ(ranges_of(a), (Pairs{{0, 100}}));
  EXPECT_EQ(a.contiguous(), 100u);
}

TEST(Assembler, MergesLikeABitmapUnderRandomOrder) {
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    Assembler a;
    std::vector<bool> model(200, false);
    for (int i = 0; i < 12; ++i) {
      const std::uint32_t s = rng() % 190;
      const std::uint32_t e = s + rng() % 10;
      ASSERT_TRUE(a.add(s, e));
      for (std::uint32_t k = s; k < e; ++k) model[k] = true;
    }
    // The ranges are exactly the maximal runs of the model, sorted, separated by gaps.
    Pairs expected;
    for (std::uint32_t k = 0; k < 200; ++k) {
      if (!model[k]) continue;
      if (!expected.empty() && expected.back().second == k) {
        expected.back().second = k + 1;
      } else {
        expected.emplace_back(k, k + 1);
      }
    }
    ASSERT_EQ(ranges_of(a), expected) << "round " << round;
    const std::uint32_t c = model[0] ? expected.front().second : 0;
    EXPECT_EQ(a.contiguous(), c);
  }
}

TEST(Assembler, ContiguousNeedsOffsetZero) {
  Assembler a;
  a.add(1, 10);
  EXPECT_EQ(a.contiguous(), 0u);
  a.add(0, 1);
  EXPECT_EQ(a.contiguous(), 10u);
}

TEST(Assembler, AdvanceShiftsAndDropsWhatIsPassed) {
  Assembler a;
  a.add(0, 10);
  a.add(20, 30);
  a.add(40, 50);
  a.advance(10);  // the delivered prefix
  EXPECT_EQ(ranges_of(a), (Pairs{{10, 20}, {30, 40}}));
  a.advance(15);  // into the middle of a range: it is clipped to start at 0
  EXPECT_EQ(ranges_of(a), (Pairs{{0, 5}, {15, 25}}));
  EXPECT_EQ(a.contiguous(), 5u);
  a.advance(25);  // past everything
  EXPECT_TRUE(a.empty());
  a.advance(0);
  EXPECT_TRUE(a.empty());
}

TEST(Assembler, RangeBoundRefusesHighRangesAndEvictsForLowOnes) {
  Assembler a;
  for (std::uint32_t i = 0; i < Assembler::kMaxRanges; ++i) ASSERT_TRUE(a.add(10 * i + 1, 10 * i + 5));
  EXPECT_EQ(a.range_count(), Assembler::kMaxRanges);
  const auto before = ranges_of(a);
  const std::uint32_t beyond = 10 * Assembler::kMaxRanges + 100;
  std::uint32_t evicted = 0xffffffffu;
  EXPECT_FALSE(a.add(beyond, beyond + 1, &evicted));  // above everything: refused
  EXPECT_EQ(ranges_of(a), before);                    // without a change
  EXPECT_EQ(evicted, 0xffffffffu);
  // Lower data still gets in (the segment at RCV.NXT must never be refused): the highest
  // range is forgotten to make room, and the caller is told where it began.
  EXPECT_TRUE(a.add(7, 8, &evicted));  // in the gap between the first two ranges
  EXPECT_EQ(evicted, 10 * (Assembler::kMaxRanges - 1) + 1);
  EXPECT_EQ(a.range_count(), Assembler::kMaxRanges);
  // Extending or bridging existing ranges needs no new one.
  EXPECT_TRUE(a.add(0, 1));
  EXPECT_TRUE(a.add(5, 11));  // bridges the first three ranges
  EXPECT_EQ(a.contiguous(), 15u);
  EXPECT_TRUE(a.add(beyond, beyond + 1));  // room again
}

TEST(Assembler, ClearEmpties) {
  Assembler a;
  a.add(3, 4);
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.range_count(), 0u);
}

}  // namespace
}  // namespace synfin::storage

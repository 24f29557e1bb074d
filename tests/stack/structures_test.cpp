// The timer wheel and the demultiplexing table against plain reference structures.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "stack/timer_wheel.hpp"
#include "stack/tuple_map.hpp"

namespace synfin::stack {
namespace {

using namespace std::chrono_literals;

Instant ms(std::int64_t v) { return at(Duration{v * 1000}); }

TEST(TimerWheel, FiresAtTheDeadlineRoundedUpToTheTick) {
  TimerWheel w(ms(0));
  w.schedule(1, at(Duration{2500}));  // 2.5 ms -> tick 3
  EXPECT_EQ(w.next_deadline(), ms(3));
  std::vector<std::uint32_t> fired;
  w.advance(ms(2), [&](std::uint32_t id) { fired.push_back(id); });
  EXPECT_TRUE(fired.empty());
  w.advance(ms(3), [&](std::uint32_t id) { fired.push_back(id); });
  EXPECT_EQ(fired, std::vector<std::uint32_t>{1});
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.next_deadline(), kNever);
}

TEST(TimerWheel, RescheduleAndCancel) {
  TimerWheel w(ms(0));
  w.schedule(7, ms(100));
  w.schedule(7, ms(50));
  EXPECT_EQ(w.size(), 1u);
  w.schedule(8, ms(10));
  w.cancel(8);
  w.schedule(9, kNever);
  EXPECT_EQ(w.size(), 1u);
  std::vector<std::pair<std::uint32_t, std::int64_t>> fired;
  Instant now = ms(0);
  w.advance(ms(1000), [&](std::uint32_t id) { fired.push_back({id, 0}); });
  EXPECT_EQ(fired.size(), 1u);
  (void)now;
}

TEST(TimerWheel, MatchesAReferenceAcrossAllLevels) {
  std::mt19937_64 rng(5);
  TimerWheel w(ms(0));
  std::map<std::uint32_t, std::int64_t> ref;  // id -> deadline tick (ms)
  std::int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    const auto id = static_cast<std::uint32_t>(rng() % 500);
    if (op < 6) {
      // Deadlines from 0 ms to about 3 days, so that every level is used.
      const std::int64_t span = std::int64_t{1} << (rng() % 28);
      const std::int64_t d = now + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span));
      w.schedule(id, ms(d));
      ref[id] = d;
    } else if (op < 7) {
      w.cancel(id);
      ref.erase(id);
    } else {
      // Jump to the next deadline (or a bit before/after) and compare what fires.
      const Instant next = w.next_deadline();
      std::int64_t target = now + static_cast<std::int64_t>(rng() % 5000);
      if (next != kNever && rng() % 2 == 0) target = to_us(next) / 1000;
      std::set<std::uint32_t> expect;
      for (auto& [k, d] : ref)
        if (d <= target) expect.insert(k);
      std::set<std::uint32_t> got;
      w.advance(ms(target), [&](std::uint32_t fid) { got.insert(fid); });
      ASSERT_EQ(got, expect) << "step " << step;
      for (auto k : expect) ref.erase(k);
      now = std::max(now, target);
    }
    ASSERT_EQ(w.size(), ref.size());
    if (!ref.empty()) {
      std::int64_t earliest = INT64_MAX;
      for (auto& [k, d] : ref) earliest = std::min(earliest, d);
      // The wheel may wake early (to move timers down a level) but never late.
      ASSERT_LE(w.next_deadline(), ms(std::max(earliest, now)));
    }
  }
}

TEST(TupleMap, MatchesAReference) {
  std::mt19937_64 rng(11);
  TupleMap m(1, 2);
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint16_t, std::uint16_t>, std::uint32_t> ref;
  for (int i = 0; i < 200000; ++i) {
    tcp::FourTuple t{0x0a000001, static_cast<std::uint32_t>(0x0a000000 + rng() % 50),
                     static_cast<std::uint16_t>(rng() % 300), 80};
    const auto key = std::make_tuple(t.local_addr, t.remote_addr, t.local_port, t.remote_port);
    if (rng() % 3 == 0) {
      EXPECT_EQ(m.erase(t), ref.erase(key) == 1);
    } else {
      const auto v = static_cast<std::uint32_t>(rng() % 1000000);
      m.insert(t, v);
      ref[key] = v;
    }
    if (i % 997 == 0) {
      ASSERT_EQ(m.size(), ref.size());
      for (auto& [k, v] : ref) {
        tcp::FourTuple q{std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k)};
        ASSERT_EQ(m.find(q), v);
      }
    }
  }
  tcp::FourTuple absent{1, 2, 3, 4};
  EXPECT_EQ(m.find(absent), TupleMap::kNone);
}

}  // namespace
}  // namespace synfin::stack

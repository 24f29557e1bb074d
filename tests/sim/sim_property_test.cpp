// Simulation property tests: many seeded runs of two stacks over a lossy, duplicating,
// reordering, corrupting link. Every byte must arrive once and in order, and afterwards
// neither stack may hold a connection, a buffer or a timer.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include <fmt/format.h>

#include "sim/sim_harness.hpp"

namespace synfin::test {
namespace {

// Do not change how cases are drawn: the regression seeds below depend on it.
SimCase random_case(std::uint64_t seed) {
  std::mt19937_64 r(seed * 0x9e3779b97f4a7c15ULL + 1);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(r); };
  SimCase c;
  c.seed = seed;
  c.imp.delay = Duration{static_cast<std::int64_t>(uni(1000, 20000))};
  c.imp.loss = (r() % 4 == 0) ? 0 : uni(0, 0.30);
  c.imp.duplicate = (r() % 3 == 0) ? uni(0, 0.05) : 0;
  c.imp.reorder = (r() % 3 == 0) ? uni(0, 0.10) : 0;
  c.imp.jitter = (r() % 3 == 0) ? Duration{static_cast<std::int64_t>(uni(0, 5000))} : Duration{};
  c.imp.corrupt = (r() % 4 == 0) ? uni(0, 0.02) : 0;
  if (r() % 4 == 0) {
    c.imp.bandwidth_bps = 10'000'000;
    c.imp.queue_bytes = 64 * 1024;
  }
  // Sizes from 0 to 1 MB, log-uniform, smaller when the path is bad.
  auto size = [&] {
    if (r() % 8 == 0) return std::size_t{0};
    const double max_log = c.imp.loss > 0.1 ? 17 : 20;  // 128 KB or 1 MB
    return static_cast<std::size_t>(std::exp2(uni(0, max_log)));
  };
  c.client_bytes = size();
  c.server_bytes = size();
  c.order = static_cast<CloseOrder>(r() % 5);
  return c;
}

TEST(SimProperty, ThousandSeededRunsDeliverEveryByteAndLeakNothing) {
  const int runs = 3000;
  int failures = 0;
  std::uint64_t bytes = 0, packets = 0;
  double vtime = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= runs; ++i) {
    const SimCase c = random_case(static_cast<std::uint64_t>(i));
    const SimOutcome o = run_sim_case(c);
    bytes += o.bytes_delivered;
    packets += o.packets;
    vtime += o.virtual_seconds;
    if (!o.ok) {
      ++failures;
      ADD_FAILURE() << describe(c) << "\n  " << o.failure;
      if (failures > 10) break;
    }
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s\n", fmt::format("simulation: {} runs, {} bytes delivered, {} packets, {:.0f} s virtual, {:.1f} s wall",
                                  runs, bytes, packets, vtime, wall)
                          .c_str());
}

// Seeds that once failed stay here as named tests.
class SimRegression : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(SimRegression, Seed) {
  const SimCase c = random_case(GetParam());
  const SimOutcome o = run_sim_case(c);
  EXPECT_TRUE(o.ok) << describe(c) << "\n  " << o.failure;
}

// 5, 16, 24, 25, 26, 29: received bytes landed in the wrong place when the receive ring was
// emptied while out-of-order data sat ahead of it (the ring reset its head).
INSTANTIATE_TEST_SUITE_P(FailedOnce, SimRegression,
                         ::testing::Values(std::uint64_t{5}, std::uint64_t{16}, std::uint64_t{24},
                                           std::uint64_t{25}, std::uint64_t{26}, std::uint64_t{29}));

}  // namespace
}  // namespace synfin::test

// Microbenchmarks of synfin's hot paths (Google Benchmark): the Internet checksum of a
// 1500-byte packet and of 64 KiB, parsing a segment (IPv4 and TCP, checksum verified),
// finding a connection by its 4-tuple among 1,000,000, and timer insertion and expiry in the
// timing wheel.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "stack/timer_wheel.hpp"
#include "stack/tuple_map.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace synfin;

std::vector<std::uint8_t> random_bytes(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  std::mt19937 rng(42);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

void BM_Checksum(benchmark::State& state) {
  const auto data = random_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(wire::internet_checksum(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Checksum)->Arg(1500)->Arg(64 * 1024);

// A full-sized data segment with timestamps, as the stack sends it.
std::vector<std::uint8_t> data_packet() {
  constexpr std::size_t kPayload = 1448;
  std::vector<std::uint8_t> p(wire::kIpv4MinHeader + 32 + kPayload);
  std::span<std::uint8_t> tcp(p.data() + wire::kIpv4MinHeader, p.size() - wire::kIpv4MinHeader);
  wire::TcpHeaderFields h{49152, 80, wire::Seq{1000}, wire::Seq{2000}, wire::tcp_flag::ACK, 512, 0};
  wire::TcpOptions o;
  o.has_timestamps = true;
  o.ts_val = 12345;
  o.ts_ecr = 54321;
  const std::size_t hl = wire::write_tcp_header(tcp, h, o, wire::kDefaultLayout);
  const auto payload = random_bytes(kPayload);
  std::memcpy(tcp.data() + hl, payload.data(), kPayload);
  const std::uint32_t src = 0x0a000001, dst = 0x0a000002;
  wire::finish_tcp_checksum_v4(tcp, src, dst);
  wire::Ipv4Header ip;
  ip.src = wire::Ipv4Addr{src};
  ip.dst = wire::Ipv4Addr{dst};
  ip.total_length = static_cast<std::uint16_t>(p.size());
  wire::write_ipv4_header(p, ip);
  return p;
}

void BM_ParseSegment(benchmark::State& state) {
  const auto p = data_packet();
  for (auto _ : state) {
    auto ip = wire::parse_ipv4(p);
    const wire::PseudoHeaderV4 ph{ip->header.src.value, ip->header.dst.value};
    auto seg = wire::parse_tcp(ip->payload, &ph);
    benchmark::DoNotOptimize(seg);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * p.size()));
}
BENCHMARK(BM_ParseSegment);

tcp::FourTuple tuple_of(std::uint32_t i) {
  return tcp::FourTuple{0x0a000002, 0x0a000001 + (i >> 16), 80, static_cast<std::uint16_t>(i)};
}

void BM_TupleLookup(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  static stack::TupleMap map(1, 2);
  static std::uint32_t filled = 0;
  if (filled != n) {
    map = stack::TupleMap(1, 2);
    for (std::uint32_t i = 0; i < n; ++i) map.insert(tuple_of(i), i);
    filled = n;
  }
  std::mt19937 rng(7);
  std::uint32_t found = 0;
  for (auto _ : state) {
    const std::uint32_t i = rng() % n;
    found += map.find(tuple_of(i)) == i ? 1 : 0;
  }
  benchmark::DoNotOptimize(found);
  state.counters["table_MiB"] = static_cast<double>(map.bytes()) / 1048576.0;
}
BENCHMARK(BM_TupleLookup)->Arg(1000000);

// Schedules a timer a few hundred milliseconds ahead and later lets the wheel expire it, as
// the retransmission timer does, for 100,000 timers at a time.
void BM_TimerInsertExpire(benchmark::State& state) {
  constexpr std::uint32_t kTimers = 100000;
  std::mt19937 rng(3);
  std::vector<std::int64_t> delay(kTimers);
  for (auto& d : delay) d = 200'000 + static_cast<std::int64_t>(rng() % 300'000);
  std::int64_t now_us = 1'000'000;
  stack::TimerWheel wheel(Instant{Duration{now_us}});
  std::uint64_t fired = 0;
  for (auto _ : state) {
    for (std::uint32_t i = 0; i < kTimers; ++i) wheel.schedule(i, Instant{Duration{now_us + delay[i]}});
    now_us += 600'000;
    wheel.advance(Instant{Duration{now_us}}, [&](std::uint32_t) { ++fired; });
  }
  if (fired != static_cast<std::uint64_t>(state.iterations()) * kTimers) state.SkipWithError("timers lost");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kTimers);
}
BENCHMARK(BM_TimerInsertExpire);

}  // namespace

BENCHMARK_MAIN();

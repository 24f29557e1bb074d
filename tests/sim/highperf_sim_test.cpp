// Simulator checks of the high-performance machinery, in virtual time (deterministic, so
// these are assertions about protocol behaviour, not timings of this machine):
// - at 0 % loss a bulk transfer reaches 90 % of the link's bandwidth;
// - where windows lose several segments, SACK finishes a 20 MB transfer at least 1.5
//   times faster than the same stack without SACK (and is never slower);
// - two CUBIC flows through one bottleneck share it within 20 % of each other.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "link/simulation.hpp"
#include "synfin/stack.hpp"

namespace synfin::test {
namespace {

using namespace std::chrono_literals;

const Ipv4Addr kClient = Ipv4Addr::of(10, 2, 0, 1);
const Ipv4Addr kServer = Ipv4Addr::of(10, 2, 0, 2);

StackConfig config(const char* name, std::uint64_t seed, const TcpConfig& tcp) {
  StackConfig c;
  c.name = name;
  c.seed = seed;
  c.tcp = tcp;
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(seed + i * 3);
  return c;
}

struct Flow {
  Handle client;
  std::optional<Handle> server;
  std::size_t sent = 0;
  std::size_t received = 0;
  std::size_t received_at_mark = 0;
  Instant done_at = kNever;
};

struct BulkResult {
  std::vector<Flow> flows;
  Instant start{};
  Instant end{};
  SocketInfo sender;  // of the first flow, at the end
};

// `flows` bulk transfers client -> server of `bytes` each, started together; runs until all
// are received or `limit`. `mark` records each flow's progress at that time.
BulkResult run_bulk(const TcpConfig& tcp, const link::Impairments& down, const link::Impairments& up,
                    std::size_t bytes, int flows, Duration limit, Duration mark = Duration::zero(),
                    std::uint64_t seed = 7) {
  Stack client(config("client", seed, tcp));
  Stack server(config("server", seed + 1, tcp));
  client.add_interface({kClient, 24, 1500});
  server.add_interface({kServer, 24, 1500});
  link::SimLink wire(down, up, seed);
  link::Simulation sim(client, server, wire);
  auto l = server.listen(Ipv4Addr{}, 5001, 16);
  EXPECT_TRUE(l.ok());
  BulkResult r;
  for (int i = 0; i < flows; ++i) r.flows.push_back(Flow{*client.connect(kServer, 5001, sim.now())});
  r.start = sim.now();
  std::vector<std::uint8_t> chunk(256 * 1024, 0x5a);
  std::vector<std::uint8_t> sink(256 * 1024);
  bool marked = false;
  auto react = [&] {
    for (SocketEvent e; server.next_event(e);) {
      if (e.kind == SocketEventKind::accept_ready) {
        for (auto a = server.accept(*l); a; a = server.accept(*l)) {
          for (auto& f : r.flows) {
            if (!f.server && server.info(*a)->remote_port == client.info(f.client)->local_port) f.server = *a;
          }
        }
      }
    }
    client.drain_events();
    for (auto& f : r.flows) {
      while (f.sent < bytes) {
        const std::size_t n = std::min(chunk.size(), bytes - f.sent);
        auto s = client.send(f.client, std::span(chunk.data(), n), sim.now());
        if (!s || *s == 0) break;
        f.sent += *s;
      }
      if (f.server) {
        while (true) {
          auto got = server.recv(*f.server, sink, sim.now());
          if (!got || *got == 0) break;
          f.received += *got;
        }
        if (f.received >= bytes && f.done_at == kNever) f.done_at = sim.now();
      }
    }
    if (!marked && mark > Duration::zero() && sim.now() >= r.start + mark) {
      marked = true;
      for (auto& f : r.flows) f.received_at_mark = f.received;
    }
  };
  auto all_done = [&] {
    for (auto& f : r.flows)
      if (f.done_at == kNever) return false;
    return true;
  };
  const Instant end = r.start + limit;
  react();
  while (!all_done() && sim.step(end)) react();
  r.end = sim.now();
  r.sender = *client.info(r.flows[0].client);
  return r;
}

link::Impairments path(Duration one_way, std::uint64_t bps, std::uint32_t queue, double loss = 0) {
  link::Impairments i;
  i.delay = one_way;
  i.bandwidth_bps = bps;
  i.queue_bytes = queue;
  i.loss = loss;
  return i;
}

TEST(HighPerfSim, ZeroLossTransferReachesNinetyPercentOfTheLink) {
  const std::uint64_t bps = 100'000'000;
  const std::size_t bytes = 50u << 20;
  // 20 ms round trip: a 250 KB bandwidth-delay product, far beyond a 64 KB window.
  auto r = run_bulk(TcpConfig{}, path(10ms, bps, 512 * 1024), path(10ms, 0, 0), bytes, 1, 60s);
  ASSERT_NE(r.flows[0].done_at, kNever) << "transfer did not finish";
  const double secs = to_seconds(r.flows[0].done_at - r.start);
  const double goodput = static_cast<double>(bytes) * 8 / secs;
  std::printf("%s\n", fmt::format("goodput {:.1f} Mbit/s of {:.0f} ({:.1f} %), {:.2f} s, cwnd {} mss {}",
                                  goodput / 1e6, bps / 1e6, 100 * goodput / bps, secs, r.sender.cwnd,
                                  r.sender.snd_mss)
                          .c_str());
  EXPECT_GE(goodput, 0.90 * bps);
}

double transfer_seconds(const TcpConfig& tcp, double loss, Duration one_way, std::uint64_t seed) {
  const auto down = path(one_way, 50'000'000, 1 << 20, loss);
  const auto up = path(one_way, 0, 0, loss);
  auto r = run_bulk(tcp, down, up, 20u << 20, 1, 900s, Duration::zero(), seed);
  EXPECT_NE(r.flows[0].done_at, kNever);
  return to_seconds(r.flows[0].done_at - r.start);
}

// Where a window loses several segments, SACK repairs them all in about one round trip;
// NewReno repairs one per round trip. Slow start overshooting a drop-tail bottleneck (50
// Mbit/s, 100 ms, a 128 KB queue) loses dozens of segments from one window.
TEST(HighPerfSim, SackIsOneAndAHalfTimesFasterWhenWindowsLoseSeveralSegments) {
  TcpConfig without;
  without.sack = false;
  const auto down = path(50ms, 50'000'000, 128 * 1024);
  const auto up = path(50ms, 0, 0);
  auto a = run_bulk(TcpConfig{}, down, up, 20u << 20, 1, 900s);
  auto b = run_bulk(without, down, up, 20u << 20, 1, 900s);
  ASSERT_NE(a.flows[0].done_at, kNever);
  ASSERT_NE(b.flows[0].done_at, kNever);
  const double ta = to_seconds(a.flows[0].done_at - a.start);
  const double tb = to_seconds(b.flows[0].done_at - b.start);
  std::printf("%s\n", fmt::format("20 MB through a 128 KB drop-tail queue, 100 ms RTT: SACK {:.2f} s, no SACK {:.2f} s, "
                                  "speed-up {:.2f}",
                                  ta, tb, tb / ta)
                          .c_str());
  EXPECT_GE(tb / ta, 1.5);
}

// At 1 % loss and a 20 ms round trip the congestion window settles near 12 segments (the
// loss rate, not recovery, sets the rate: Mathis et al.), so a window rarely loses more
// than one segment and SACK has little to add. It must not cost anything either.
TEST(HighPerfSim, SackIsNoSlowerAtOnePercentLossAndTwentyMsRtt) {
  TcpConfig without;
  without.sack = false;
  double ta = 0, tb = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    ta += transfer_seconds(TcpConfig{}, 0.01, 10ms, seed);
    tb += transfer_seconds(without, 0.01, 10ms, seed);
  }
  std::printf("%s\n", fmt::format("20 MB at 1 % loss, 20 ms RTT (4 seeds): SACK {:.2f} s, no SACK {:.2f} s, ratio {:.2f}",
                                  ta / 4, tb / 4, tb / ta)
                          .c_str());
  EXPECT_GE(tb / ta, 0.9);
}

TEST(HighPerfSim, TwoCubicFlowsShareABottleneckWithinTwentyPercent) {
  const std::size_t bytes = 400u << 20;  // more than fits in the run: both stay busy
  auto r = run_bulk(TcpConfig{}, path(10ms, 20'000'000, 128 * 1024), path(10ms, 0, 0), bytes, 2, 40s, 10s);
  // Compare what each flow moved between 10 s and 40 s, once both are past slow start.
  const double a = static_cast<double>(r.flows[0].received - r.flows[0].received_at_mark);
  const double b = static_cast<double>(r.flows[1].received - r.flows[1].received_at_mark);
  std::printf("%s\n", fmt::format("two CUBIC flows over 20 Mbit/s: {:.1f} MB and {:.1f} MB in 30 s (ratio {:.2f}), "
                                  "link use {:.1f} %",
                                  a / 1e6, b / 1e6, std::max(a, b) / std::min(a, b),
                                  100 * (a + b) * 8 / 30 / 20e6)
                          .c_str());
  ASSERT_GT(std::min(a, b), 0);
  EXPECT_LE(std::max(a, b) / std::min(a, b), 1.2);
}

}  // namespace
}  // namespace synfin::test

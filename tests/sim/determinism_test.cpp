// "The same seed gives the same run, packet for packet" (src/link/sim_link.hpp): an impaired
// simulation (loss, duplication, reordering, corruption, delay and jitter) run twice with
// one seed is identical in every packet's bytes and virtual time; another seed differs.
//
// What is compared: a pcap tap of side A (what the client sends and receives, with virtual
// timestamps), every trace event of both stacks (each segment in and out with its time,
// state changes, timers, drops), every impairment the link reports, and the end state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "link/simulation.hpp"
#include "synfin/stack.hpp"

namespace synfin::test {
namespace {

using namespace std::chrono_literals;

const Ipv4Addr kClient = Ipv4Addr::of(10, 2, 0, 1);
const Ipv4Addr kServer = Ipv4Addr::of(10, 2, 0, 2);

StackConfig config(const char* name, std::uint64_t salt) {
  StackConfig c;
  c.name = name;
  c.seed = salt;
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(salt * 31 + i);
  c.tcp.r2_timeout = 3600s;
  c.tcp.syn_r2_timeout = 3600s;
  return c;
}

struct Lines : TraceSink {
  void on_trace(const TraceEvent& e) override { lines.push_back(JsonTraceSink::format(e)); }
  std::vector<std::string> lines;
};

struct PcapRecord {
  std::int64_t us = 0;
  std::vector<std::uint8_t> bytes;
  friend bool operator==(const PcapRecord&, const PcapRecord&) = default;
};

std::vector<PcapRecord> read_pcap(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<std::uint8_t> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<PcapRecord> out;
  auto u32 = [&](std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, all.data() + at, 4);
    return v;
  };
  if (all.size() < 24 || u32(0) != 0xa1b2c3d4u) {
    ADD_FAILURE() << "not a pcap file: " << path;
    return out;
  }
  std::size_t at = 24;
  while (at + 16 <= all.size()) {
    const std::uint32_t len = u32(at + 8);
    if (at + 16 + len > all.size()) {
      ADD_FAILURE() << "truncated pcap record";
      break;
    }
    PcapRecord r;
    r.us = std::int64_t{u32(at)} * 1000000 + u32(at + 4);
    r.bytes.assign(all.begin() + static_cast<std::ptrdiff_t>(at + 16),
                   all.begin() + static_cast<std::ptrdiff_t>(at + 16 + len));
    out.push_back(std::move(r));
    at += 16 + len;
  }
  return out;
}

struct SimRun {
  std::vector<PcapRecord> tap;         // side A, with virtual times
  std::vector<std::string> trace;      // both stacks
  std::vector<std::string> impairments;
  std::size_t delivered_up = 0;
  std::size_t delivered_down = 0;
  bool intact = true;
  std::int64_t end_us = 0;
  link::LinkStats to_a, to_b;
};

std::uint8_t pattern(std::size_t i, std::uint8_t salt) { return static_cast<std::uint8_t>(i * 7 + (i >> 9) + salt); }

SimRun run_once(std::uint64_t seed) {
  static int counter = 0;
  // Unique per process: ctest runs each test in its own process, several at once.
  const std::string path = ::testing::TempDir() + "synfin_determinism_" + std::to_string(::getpid()) + "_" +
                           std::to_string(seed) + "_" + std::to_string(counter++) + ".pcap";
  SimRun run;
  link::Impairments imp;
  imp.loss = 0.05;
  imp.duplicate = 0.03;
  imp.reorder = 0.05;
  imp.corrupt = 0.02;
  imp.delay = 5ms;
  imp.jitter = 2ms;
  Stack client(config("client", 11)), server(config("server", 12));
  client.add_interface({kClient, 24, 1500});
  server.add_interface({kServer, 24, 1500});
  link::SimLink wire(imp, imp, seed);
  link::Simulation sim(client, server, wire);
  link::PcapWriter pcap;
  EXPECT_TRUE(pcap.open(path).ok());
  sim.tap(&pcap);
  Lines lines;
  client.set_trace(&lines);
  server.set_trace(&lines);
  wire.set_observer([&](link::SimLink::Side to, std::string_view what, std::span<const std::uint8_t> p) {
    run.impairments.push_back(std::to_string(to_us(sim.now())) + " to " + std::to_string(to) + " " +
                              std::string(what) + " " + std::to_string(p.size()) + " bytes, sum " +
                              std::to_string(std::accumulate(p.begin(), p.end(), 0u)));
  });

  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  std::optional<Handle> a;
  std::vector<std::uint8_t> up(150000), down(60000);
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = pattern(i, 1);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = pattern(i, 2);
  std::size_t sent_up = 0, sent_down = 0;
  bool c_shut = false, s_shut = false, c_eof = false, s_eof = false;
  std::uint8_t buf[8192];
  const Instant limit = sim.now() + 600s;
  while (sim.now() < limit && !(c_eof && s_eof && c_shut && s_shut)) {
    if (!a) {
      auto r = server.accept(*l);
      if (r) a = *r;
    }
    if (sent_up < up.size()) {
      auto r = client.send(c, std::span(up).subspan(sent_up), sim.now());
      if (r) sent_up += *r;
    } else if (!c_shut) {
      c_shut = client.shutdown(c, sim.now()) == Error::none;
    }
    if (a) {
      if (sent_down < down.size()) {
        auto r = server.send(*a, std::span(down).subspan(sent_down), sim.now());
        if (r) sent_down += *r;
      } else if (!s_shut) {
        s_shut = server.shutdown(*a, sim.now()) == Error::none;
      }
      for (auto r = server.recv(*a, buf, sim.now()); r; r = server.recv(*a, buf, sim.now())) {
        if (*r == 0) {
          s_eof = true;
          break;
        }
        for (std::size_t i = 0; i < *r; ++i)
          if (buf[i] != pattern(run.delivered_up + i, 1)) run.intact = false;
        run.delivered_up += *r;
      }
    }
    for (auto r = client.recv(c, buf, sim.now()); r; r = client.recv(c, buf, sim.now())) {
      if (*r == 0) {
        c_eof = true;
        break;
      }
      for (std::size_t i = 0; i < *r; ++i)
        if (buf[i] != pattern(run.delivered_down + i, 2)) run.intact = false;
      run.delivered_down += *r;
    }
    client.drain_events();
    server.drain_events();
    if (!sim.step(limit)) break;
  }
  sim.run_to(sim.now() + 120s);  // TIME-WAIT and whatever else is left
  run.end_us = to_us(sim.now());
  run.to_a = wire.stats_towards(link::SimLink::A);
  run.to_b = wire.stats_towards(link::SimLink::B);
  client.set_trace(nullptr);
  server.set_trace(nullptr);
  sim.tap(nullptr);
  pcap.close();
  run.trace = std::move(lines.lines);
  run.tap = read_pcap(path);
  std::remove(path.c_str());
  return run;
}

bool same_stats(const link::LinkStats& x, const link::LinkStats& y) {
  return x.sent == y.sent && x.delivered == y.delivered && x.lost == y.lost && x.duplicated == y.duplicated &&
         x.reordered == y.reordered && x.corrupted == y.corrupted && x.bytes_delivered == y.bytes_delivered;
}

TEST(SimDeterminism, SameSeedSameRunPacketForPacket) {
  const SimRun one = run_once(2024);
  const SimRun two = run_once(2024);
  // The run is a real, impaired one that completed.
  EXPECT_TRUE(one.intact);
  EXPECT_EQ(one.delivered_up, 150000u);
  EXPECT_EQ(one.delivered_down, 60000u);
  EXPECT_GT(one.to_a.lost + one.to_b.lost, 0u);
  EXPECT_GT(one.to_a.duplicated + one.to_b.duplicated, 0u);
  EXPECT_GT(one.to_a.reordered + one.to_b.reordered, 0u);
  EXPECT_GT(one.to_a.corrupted + one.to_b.corrupted, 0u);
  ASSERT_GT(one.tap.size(), 200u);
  // Packet for packet: the same bytes at the same virtual times.
  ASSERT_EQ(one.tap.size(), two.tap.size());
  for (std::size_t i = 0; i < one.tap.size(); ++i) {
    ASSERT_EQ(one.tap[i].us, two.tap[i].us) << "packet " << i;
    ASSERT_EQ(one.tap[i].bytes, two.tap[i].bytes) << "packet " << i;
  }
  ASSERT_EQ(one.trace.size(), two.trace.size());
  for (std::size_t i = 0; i < one.trace.size(); ++i) ASSERT_EQ(one.trace[i], two.trace[i]) << "event " << i;
  EXPECT_EQ(one.impairments, two.impairments);
  EXPECT_TRUE(same_stats(one.to_a, two.to_a));
  EXPECT_TRUE(same_stats(one.to_b, two.to_b));
  EXPECT_EQ(one.end_us, two.end_us);
}

TEST(SimDeterminism, AnotherSeedGivesAnotherRun) {
  const SimRun one = run_once(2024);
  const SimRun other = run_once(2025);
  EXPECT_TRUE(other.intact);
  EXPECT_EQ(other.delivered_up, 150000u);
  EXPECT_EQ(other.delivered_down, 60000u);
  // The same stacks and data, but the link's dice fall differently.
  EXPECT_NE(one.tap, other.tap);
  EXPECT_NE(one.impairments, other.impairments);
  // The difference shows in the packets' times or bytes, not only in their number.
  bool differs = one.tap.size() != other.tap.size();
  for (std::size_t i = 0; !differs && i < one.tap.size(); ++i) differs = !(one.tap[i] == other.tap[i]);
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace synfin::test

// Simulator checks of the receiver's acknowledgements when many segments arrive together (a
// burst over a path without a rate limit arrives in one batch, as a runtime reading a
// device in batches sees it): every out-of-order block the receiver holds must reach the
// sender in some ACK or SACK (RFC 2018 section 4), so the sender never resends data the
// receiver already has. A resent segment the receiver already holds is dropped as old
// (tcp_not_acceptable) or reported as a D-SACK; either way it is a wasted retransmission.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "link/simulation.hpp"
#include "stack/raw_peer.hpp"
#include "synfin/stack.hpp"

namespace synfin::test {
namespace {

using namespace std::chrono_literals;

const Ipv4Addr kClient = Ipv4Addr::of(10, 3, 0, 1);
const Ipv4Addr kServer = Ipv4Addr::of(10, 3, 0, 2);

StackConfig config(const char* name, std::uint64_t seed, const TcpConfig& tcp) {
  StackConfig c;
  c.name = name;
  c.seed = seed;
  c.tcp = tcp;
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(seed + i * 5);
  return c;
}

struct BulkRun {
  bool done = false;
  double seconds = 0;
  std::uint64_t lost = 0;             // data packets the link lost
  std::uint64_t retransmissions = 0;  // by the sender
  std::uint64_t not_acceptable = 0;   // at the receiver
  std::uint64_t acks = 0;             // segments the receiver sent
  std::uint64_t data_segments = 0;    // segments the receiver got
};

// `bytes` client -> server over a path with `one_way` delay both ways, `loss` on the data
// direction and no rate limit: whatever the sender sends at one instant arrives together.
BulkRun bulk(const TcpConfig& tcp, std::size_t bytes, Duration one_way, double loss, std::uint64_t seed) {
  Stack client(config("client", seed, tcp));
  Stack server(config("server", seed + 1, tcp));
  client.add_interface({kClient, 24, 1500});
  server.add_interface({kServer, 24, 1500});
  link::Impairments down;
  down.delay = one_way;
  down.loss = loss;
  link::Impairments up;
  up.delay = one_way;
  link::SimLink wire(down, up, seed);
  link::Simulation sim(client, server, wire);
  auto l = server.listen(Ipv4Addr{}, 5001, 4);
  EXPECT_TRUE(l.ok());
  const Handle c = *client.connect(kServer, 5001, sim.now());
  std::optional<Handle> s;
  const Instant start = sim.now();
  std::vector<std::uint8_t> chunk(256 * 1024, 0x3c);
  std::vector<std::uint8_t> sink(256 * 1024);
  std::size_t sent = 0, received = 0;
  auto react = [&] {
    for (SocketEvent e; server.next_event(e);) {
      if (e.kind == SocketEventKind::accept_ready) {
        if (auto a = server.accept(*l)) s = *a;
      }
    }
    client.drain_events();
    while (sent < bytes) {
      auto n = client.send(c, std::span(chunk.data(), std::min(chunk.size(), bytes - sent)), sim.now());
      if (!n || *n == 0) break;
      sent += *n;
    }
    if (s) {
      while (true) {
        auto got = server.recv(*s, sink, sim.now());
        if (!got || *got == 0) break;
        received += *got;
      }
    }
  };
  react();
  const Instant end = start + 600s;
  while (received < bytes && sim.step(end)) react();
  BulkRun r;
  r.done = received >= bytes;
  r.seconds = to_seconds(sim.now() - start);
  r.lost = wire.stats_towards(link::SimLink::B).lost;
  r.retransmissions = client.info(c)->retransmissions;
  r.not_acceptable = server.counters().drop_count(DropReason::tcp_not_acceptable);
  if (s) {
    r.acks = server.info(*s)->segments_out;
    r.data_segments = server.info(*s)->segments_in;
  }
  return r;
}

std::string show(const BulkRun& r) {
  return fmt::format("{:.2f} s, lost {}, retransmissions {}, not acceptable at the receiver {}, "
                     "segments in {}, ACKs {}",
                     r.seconds, r.lost, r.retransmissions, r.not_acceptable, r.data_segments, r.acks);
}

// 1 % loss, 20 ms round trip, windows of megabytes (auto-tuning, window scaling, SACK): a
// window's worth of segments lands in one batch with several holes in it. The receiver must
// still report every block it holds, so the sender resends (about) only what was lost and
// the receiver never sees data again that it already had.
TEST(ReceiverAckSim, BatchedArrivalsWithSeveralHolesLoseNoSackInformation) {
  std::uint64_t lost = 0, rtx = 0, old = 0;
  // A large initial window gives the bursts of a sender that keeps megabytes in flight
  // through random loss (as Linux with BBR does).
  TcpConfig tcp;
  tcp.initial_window_segments = 300;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const BulkRun r = bulk(tcp, 4u << 20, 10ms, 0.01, seed);
    std::printf("%s\n", fmt::format("seed {}: {}", seed, show(r)).c_str());
    ASSERT_TRUE(r.done) << show(r);
    lost += r.lost;
    rtx += r.retransmissions;
    old += r.not_acceptable;
  }
  // Retransmissions of lost retransmissions and the odd timeout are fine; resending what
  // the receiver holds is not. (Before the receiver flushed its ACK between blocks: 89
  // lost, 291 retransmissions, 202 segments the receiver already had.)
  EXPECT_LE(rtx, lost + lost / 10 + 5);
  EXPECT_LE(old, 5u);
}

// The same, segment by segment: a stack whose peer negotiated SACK and timestamps receives
// one batch of five out-of-order runs. One ACK carries three blocks at most (timestamps
// take the room of the fourth); the ACKs for the batch must between them report all five.
class BatchedReceiver : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kPeerIsn = 7000;
  static constexpr std::uint32_t kSeg = 1000;

  void SetUp() override {
    s.add_interface({Ipv4Addr::of(10, 0, 0, 1), 24, 1500});
    h = *s.connect(Ipv4Addr::of(10, 0, 0, 2), 80, now);
    auto out = sent_by(s, now);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(out[0].tcp->options.sack_permitted);
    ASSERT_TRUE(out[0].tcp->options.has_timestamps);
    port = out[0].tcp->src_port;
    snd = out[0].tcp->seq.raw() + 1;
    wire::TcpOptions o;
    o.has_mss = true;
    o.mss = 1460;
    o.sack_permitted = true;
    o.has_timestamps = true;
    o.ts_val = 1;
    o.ts_ecr = out[0].tcp->options.ts_val;
    out = inject_now(packet(kPeerIsn, flag::SYN | flag::ACK, "", o));
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(s.info(h)->state, TcpState::established);
    s.drain_events();
  }

  std::vector<std::uint8_t> packet(std::uint32_t seq, std::uint8_t flags, const std::string& data,
                                   wire::TcpOptions o) {
    wire::TcpHeaderFields f{80, port, wire::Seq{seq}, wire::Seq{snd}, flags, 65535, 0};
    std::vector<std::uint8_t> p(20 + wire::kTcpMaxHeader + data.size());
    std::span<std::uint8_t> tcp(p.data() + 20, p.size() - 20);
    const std::size_t hl = wire::write_tcp_header(tcp, f, o, wire::kDefaultLayout);
    std::copy(data.begin(), data.end(), p.begin() + static_cast<std::ptrdiff_t>(20 + hl));
    p.resize(20 + hl + data.size());
    wire::finish_tcp_checksum_v4(std::span<std::uint8_t>(p.data() + 20, hl + data.size()),
                                 Ipv4Addr::of(10, 0, 0, 2).value, Ipv4Addr::of(10, 0, 0, 1).value);
    wire::Ipv4Header ip;
    ip.src = Ipv4Addr::of(10, 0, 0, 2);
    ip.dst = Ipv4Addr::of(10, 0, 0, 1);
    ip.total_length = static_cast<std::uint16_t>(p.size());
    wire::write_ipv4_header(p, ip);
    return p;
  }
  // Data segment number `i` (of kSeg bytes after the peer's SYN).
  std::vector<std::uint8_t> data(std::uint32_t i) {
    wire::TcpOptions o;
    o.has_timestamps = true;
    o.ts_val = ++ts;
    return packet(kPeerIsn + 1 + i * kSeg, flag::ACK, std::string(kSeg, 'd'), o);
  }
  std::vector<Captured> inject_now(const std::vector<std::uint8_t>& p) {
    s.receive(p, now);
    return sent_by(s, now);
  }

  Stack s{test_config()};
  Instant now = at(10s);
  Handle h;
  std::uint16_t port = 0;
  std::uint32_t snd = 0;
  std::uint32_t ts = 1;
};

TEST_F(BatchedReceiver, EveryOutOfOrderBlockOfABatchIsReported) {
  // Segments 1, 3-4, 6, 8, 10-11 arrive together; 0, 2, 5, 7 and 9 were lost.
  for (std::uint32_t i : {1u, 3u, 4u, 6u, 8u, 10u, 11u}) s.receive(data(i), now);
  const auto out = sent_by(s, now);
  ASSERT_FALSE(out.empty());
  std::vector<std::pair<std::uint32_t, std::uint32_t>> reported;
  for (const auto& p : out) {
    ASSERT_TRUE(p.tcp);
    EXPECT_EQ(p.tcp->ack.raw(), kPeerIsn + 1);
    for (std::uint8_t i = 0; i < p.tcp->options.sack_count; ++i)
      reported.emplace_back(p.tcp->options.sack[i].left.raw(), p.tcp->options.sack[i].right.raw());
  }
  auto block = [](std::uint32_t a, std::uint32_t b) {
    return std::pair{kPeerIsn + 1 + a * kSeg, kPeerIsn + 1 + b * kSeg};
  };
  for (auto want : {block(1, 2), block(3, 5), block(6, 7), block(8, 9), block(10, 12)}) {
    EXPECT_NE(std::find(reported.begin(), reported.end(), want), reported.end())
        << "block " << want.first << "-" << want.second << " never reported in " << out.size() << " ACKs";
  }
  // Still aggregated (MUST-58): one ACK per block, not one per segment.
  EXPECT_LE(out.size(), 5u);
}

TEST_F(BatchedReceiver, EveryResentSegmentWeHoldGetsItsDsack) {
  for (std::uint32_t i = 0; i < 4; ++i) s.receive(data(i), now);
  ASSERT_FALSE(sent_by(s, now).empty());
  // The sender, lacking our ACKs, resends them all, twelve times over, one by one: each copy
  // is answered with a D-SACK (RFC 2883), not cut off at the challenge-ACK limit.
  int dsacks = 0;
  for (int round = 0; round < 12; ++round) {
    const auto out = inject_now(data(static_cast<std::uint32_t>(round % 4)));
    ASSERT_EQ(out.size(), 1u) << round;
    EXPECT_EQ(out[0].tcp->ack.raw(), kPeerIsn + 1 + 4 * kSeg);
    const auto& o = out[0].tcp->options;
    if (o.sack_count > 0 && o.sack[0].right.raw() <= kPeerIsn + 1 + 4 * kSeg) ++dsacks;
  }
  EXPECT_EQ(dsacks, 12);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_not_acceptable), 12u);
}

}  // namespace
}  // namespace synfin::test

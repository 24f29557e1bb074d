// Gaps an audit of issue 3 found, each tested by what a user can observe: segments on the
// wire, socket events, counters, SocketInfo and the trace stream.
//   - a full accept queue ignores the handshake-completing ACK (and the connection gets in
//     once accept() makes room);
//   - the link MTU: the link drops (and counts) larger packets; the stack never sends one;
//   - socket options: no_delay, buffer sizes, user_timeout;
//   - events: writable, closed with its error;
//   - counters: resets_in, retransmissions, per-connection segments and duplicate ACKs;
//   - the trace stream: state changes, segments with their options, drops;
//   - TcpConfig::min_rto.
#include <algorithm>
#include <string>
#include <vector>

#include "link/simulation.hpp"
#include "stack/raw_peer.hpp"

namespace synfin::test {
namespace {

const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kPeer = Ipv4Addr::of(10, 0, 0, 2);

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::size_t count_kind(const std::vector<SocketEvent>& v, Handle h, SocketEventKind k) {
  return static_cast<std::size_t>(
      std::count_if(v.begin(), v.end(), [&](const SocketEvent& e) { return e.socket == h && e.kind == k; }));
}

// A stack with one interface and a raw peer that scripts the other side.
class GapsRaw : public ::testing::Test {
 protected:
  explicit GapsRaw(StackConfig c = test_config()) : s(c) { s.add_interface({kUs, 24, 1500}); }
  std::vector<Captured> inject(const RawTcp& r) {
    s.receive(build_tcp_packet(r), now);
    return sent_by(s, now);
  }
  // Moves time to `t`, running the timers; returns what was sent meanwhile.
  std::vector<Captured> advance_to(Instant t) {
    std::vector<Captured> all;
    while (s.next_deadline() <= t) {
      now = std::max(now, s.next_deadline());
      s.poll(now);
      for (auto& p : sent_by(s, now)) all.push_back(std::move(p));
    }
    now = t;
    s.poll(now);
    for (auto& p : sent_by(s, now)) all.push_back(std::move(p));
    return all;
  }
  // An active open to kPeer:80 completed by the raw peer (ISN 7000, MSS 1000, window
  // 65535, no other option). Options may be set between open() and start().
  Handle connect(const SocketOptions* opts = nullptr) {
    auto h = s.open(kPeer, 80);
    EXPECT_TRUE(h.ok());
    if (opts != nullptr) {
      EXPECT_EQ(s.set_options(*h, *opts, now), Error::none);
    }
    EXPECT_EQ(s.start(*h, now), Error::none);
    auto out = sent_by(s, now);
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) return *h;
    syn = out[0];
    iss = syn.tcp->seq.raw();
    port = syn.tcp->src_port;
    now += 10ms;  // a round-trip time of 10 ms
    out = inject({.sport = 80, .dport = port, .seq = 7000, .ack = iss + 1, .flags = flag::SYN | flag::ACK,
                  .mss = 1000});
    EXPECT_EQ(out.size(), 1u);  // the ACK
    EXPECT_EQ(s.info(*h)->state, TcpState::established);
    s.drain_events();
    return *h;
  }
  // A segment from the peer of connect(); `ack` counts bytes of ours acknowledged.
  RawTcp from_peer(std::uint32_t acked, std::uint8_t flags = flag::ACK, std::string data = {},
                   std::uint32_t peer_offset = 0) {
    return {.sport = 80, .dport = port, .seq = 7001 + peer_offset, .ack = iss + 1 + acked, .flags = flags,
            .data = std::move(data)};
  }

  Stack s;
  Instant now = at(10s);
  Captured syn;
  std::uint32_t iss = 0;
  std::uint16_t port = 0;
};

// --- 1. the accept queue is full when the handshake-completing ACK arrives ---------------

class GapsListener : public GapsRaw {
 protected:
  // The raw peer from port `sport` sends its SYN; returns the SYN-ACK's sequence number.
  std::uint32_t syn_from(std::uint16_t sport) {
    auto out = inject({.sport = sport, .seq = 1000, .flags = flag::SYN, .mss = 1460});
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) return 0;
    EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
    return out[0].tcp->seq.raw();
  }
  std::vector<Captured> ack_from(std::uint16_t sport, std::uint32_t synack_seq) {
    return inject({.sport = sport, .seq = 1001, .ack = synack_seq + 1, .flags = flag::ACK});
  }
};

TEST_F(GapsListener, AcceptQueueFullIgnoresTheHandshakeAckUntilAcceptMakesRoom) {
  auto l = s.listen(Ipv4Addr{}, 80, 2);
  ASSERT_TRUE(l);
  // A completes its handshake: the accept queue holds 1 of 2.
  const std::uint32_t a = syn_from(5001);
  EXPECT_TRUE(ack_from(5001, a).empty());
  // B and C open while there is room; C completes first and fills the queue.
  const std::uint32_t b = syn_from(5002);
  const Instant b_synack_at = now;
  const std::uint32_t c = syn_from(5003);
  EXPECT_TRUE(ack_from(5003, c).empty());
  ASSERT_EQ(s.info(*l)->accept_queue, 2u);
  ASSERT_EQ(s.info(*l)->syn_queue, 1u);  // B, half-open
  EXPECT_EQ(count_kind(s.drain_events(), *l, SocketEventKind::accept_ready), 2u);
  const auto overflows = s.counters().listen_overflows;
  const auto drops = s.counters().drop_count(DropReason::tcp_listen_overflow);
  const auto accepted = s.counters().connections_accepted;

  // B's ACK arrives while the queue is full: ignored. No answer, no ESTABLISHED, counted.
  EXPECT_TRUE(ack_from(5002, b).empty());
  EXPECT_EQ(s.counters().listen_overflows, overflows + 1);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_listen_overflow), drops + 1);
  EXPECT_EQ(s.counters().connections_accepted, accepted);
  EXPECT_EQ(s.info(*l)->accept_queue, 2u);
  EXPECT_EQ(s.info(*l)->syn_queue, 1u);
  EXPECT_EQ(s.counters().connections_by_state[static_cast<int>(TcpState::established)], 2u);
  EXPECT_EQ(s.counters().connections_by_state[static_cast<int>(TcpState::syn_received)], 1u);
  EXPECT_TRUE(s.drain_events().empty());

  // B's SYN-ACK is retransmitted on its timer (initial RTO 1 s), not before.
  EXPECT_TRUE(advance_to(b_synack_at + 999ms).empty());
  auto out = advance_to(b_synack_at + 1s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
  EXPECT_EQ(out[0].tcp->dst_port, 5002);
  EXPECT_EQ(out[0].tcp->seq.raw(), b);
  EXPECT_EQ(out[0].tcp->ack.raw(), 1001u);
  EXPECT_EQ(s.counters().retransmissions, 1u);

  // The peer's ACK comes again; the queue is still full: ignored again.
  EXPECT_TRUE(ack_from(5002, b).empty());
  EXPECT_EQ(s.counters().listen_overflows, overflows + 2);
  EXPECT_EQ(s.info(*l)->accept_queue, 2u);

  // The application accepts A: room for one.
  auto first = s.accept(*l);
  ASSERT_TRUE(first);
  EXPECT_EQ(s.info(*first)->remote_port, 5001);
  EXPECT_EQ(s.info(*l)->accept_queue, 1u);
  // The next SYN-ACK (backed off to 2 s) draws the peer's ACK, which completes B.
  EXPECT_TRUE(advance_to(b_synack_at + 3s - 1ms).empty());
  out = advance_to(b_synack_at + 3s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
  EXPECT_EQ(out[0].tcp->dst_port, 5002);
  EXPECT_TRUE(ack_from(5002, b).empty());
  EXPECT_EQ(s.counters().listen_overflows, overflows + 2);  // not counted again
  EXPECT_EQ(s.counters().connections_accepted, accepted + 1);
  EXPECT_EQ(s.info(*l)->syn_queue, 0u);
  EXPECT_EQ(s.info(*l)->accept_queue, 2u);
  EXPECT_EQ(count_kind(s.drain_events(), *l, SocketEventKind::accept_ready), 1u);
  // Accepted in the order they completed: C, then B.
  auto second = s.accept(*l);
  auto third = s.accept(*l);
  ASSERT_TRUE(second);
  ASSERT_TRUE(third);
  EXPECT_EQ(s.info(*second)->remote_port, 5003);
  EXPECT_EQ(s.info(*third)->remote_port, 5002);
  EXPECT_EQ(s.info(*third)->state, TcpState::established);
  EXPECT_EQ(s.accept(*l).error(), Error::would_block);
  // And B works: its data is delivered.
  (void)inject({.sport = 5002, .seq = 1001, .ack = b + 1, .flags = flag::ACK | flag::PSH, .data = "hi"});
  std::uint8_t buf[8];
  auto r = s.recv(*third, buf, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 2u);
}

// --- 3. the MTU: the stack on a small-MTU interface never sends a larger packet -----------

TEST(GapsMtu, StackOnASmallMtuInterfaceAnnouncesMssFromItAndNeverExceedsIt) {
  Stack t(test_config());
  t.add_interface({kUs, 24, 576});
  Instant now = at(1s);
  Handle h = *t.connect(kPeer, 80, now);
  auto out = sent_by(t, now);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].tcp->options.has_mss);
  EXPECT_EQ(out[0].tcp->options.mss, 576 - 40);  // MUST-67
  // The peer offers a larger MSS; ours still bounds what we send.
  const std::uint32_t iss = out[0].tcp->seq.raw();
  t.receive(build_tcp_packet({.sport = 80, .dport = out[0].tcp->src_port, .seq = 7000, .ack = iss + 1,
                              .flags = flag::SYN | flag::ACK, .mss = 1460}),
            now);
  (void)sent_by(t, now);
  EXPECT_LE(t.info(h)->snd_mss, 536u);
  std::vector<std::uint8_t> data(20000, 'm');
  ASSERT_TRUE(t.send(h, data, now));
  out = sent_by(t, now);
  ASSERT_GE(out.size(), 5u);
  for (const auto& p : out) {
    EXPECT_LE(p.bytes.size(), 576u);
    EXPECT_LE(p.payload.size(), 536u);
  }
  EXPECT_EQ(out[0].bytes.size(), 576u);  // full-sized segments fill the MTU exactly
}

link::Impairments with_mtu(std::uint16_t mtu) {
  link::Impairments i;
  i.delay = 1ms;
  i.mtu = mtu;
  return i;
}

TEST(GapsMtu, TheLinkDropsAndCountsPacketsLargerThanItsMtu) {
  link::SimLink ln(with_mtu(576), with_mtu(576), 7);
  std::vector<std::string> told;
  ln.set_observer([&](link::SimLink::Side, std::string_view what, std::span<const std::uint8_t>) {
    told.emplace_back(what);
  });
  const std::vector<std::uint8_t> fits(576, 1), too_big(577, 2);
  ln.send(link::SimLink::A, fits, at(0s));
  ln.send(link::SimLink::A, too_big, at(0s));
  ln.send(link::SimLink::B, too_big, at(0s));
  std::vector<std::size_t> delivered;
  ln.deliver(at(1s), [&](link::SimLink::Side to, std::span<const std::uint8_t> p, Instant) {
    EXPECT_EQ(to, link::SimLink::B);
    delivered.push_back(p.size());
  });
  EXPECT_EQ(delivered, std::vector<std::size_t>{576});
  EXPECT_EQ(ln.stats_towards(link::SimLink::B).mtu_drops, 1u);
  EXPECT_EQ(ln.stats_towards(link::SimLink::B).delivered, 1u);
  EXPECT_EQ(ln.stats_towards(link::SimLink::A).mtu_drops, 1u);
  EXPECT_EQ(ln.stats_towards(link::SimLink::A).delivered, 0u);
  EXPECT_EQ(told, (std::vector<std::string>{"dropped (larger than the MTU)", "dropped (larger than the MTU)"}));
}

// Two stacks over a 576-byte link. A stack on an interface of that MTU announces MSS 536,
// which bounds what both sides send: every byte gets through and the link drops nothing.
// Stacks that believe in 1500 bytes send full-sized segments, which the link drops and
// counts (with no ICMP to tell them of the smaller MTU).
struct MtuRun {
  bool delivered = false;
  std::uint64_t mtu_drops = 0;
  std::size_t largest_sent = 0;
};

MtuRun transfer_over_576(std::uint16_t client_mtu, std::uint16_t server_mtu) {
  Stack client(test_config("client", 1)), server(test_config("server", 2));
  client.add_interface({kUs, 24, client_mtu});
  server.add_interface({kPeer, 24, server_mtu});
  link::SimLink ln(with_mtu(576), with_mtu(576), 9);
  link::Simulation sim(client, server, ln);
  MtuRun run;
  ln.set_observer([&](link::SimLink::Side, std::string_view what, std::span<const std::uint8_t> p) {
    if (what.starts_with("dropped (larger")) run.largest_sent = std::max(run.largest_sent, p.size());
  });
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kPeer, 80, sim.now());
  sim.run_to(sim.now() + 100ms);
  auto a = server.accept(*l);
  if (!a) return run;
  // Both send: the client 20 KB, the server 30 KB.
  std::vector<std::uint8_t> up(20000, 'c'), down(30000, 's');
  std::size_t sent_up = 0, sent_down = 0, got_up = 0, got_down = 0;
  std::uint8_t buf[4096];
  for (int i = 0; i < 200 && (got_up < up.size() || got_down < down.size()); ++i) {
    if (sent_up < up.size()) {
      auto r = client.send(c, std::span(up).subspan(sent_up), sim.now());
      if (r) sent_up += *r;
    }
    if (sent_down < down.size()) {
      auto r = server.send(*a, std::span(down).subspan(sent_down), sim.now());
      if (r) sent_down += *r;
    }
    sim.run_to(sim.now() + 50ms);
    for (auto r = client.recv(c, buf, sim.now()); r && *r > 0; r = client.recv(c, buf, sim.now())) got_down += *r;
    for (auto r = server.recv(*a, buf, sim.now()); r && *r > 0; r = server.recv(*a, buf, sim.now())) got_up += *r;
  }
  run.delivered = got_up == up.size() && got_down == down.size();
  run.mtu_drops = ln.stats_towards(link::SimLink::A).mtu_drops + ln.stats_towards(link::SimLink::B).mtu_drops;
  return run;
}

TEST(GapsMtu, StacksWithTheLinkMtuNeverHitTheLinkLimit) {
  const MtuRun r = transfer_over_576(576, 576);
  EXPECT_TRUE(r.delivered);
  EXPECT_EQ(r.mtu_drops, 0u);
}

TEST(GapsMtu, OneSideWithTheLinkMtuBoundsBothDirections) {
  // The server's interface says 1500, but the client's SYN announced MSS 536.
  const MtuRun r = transfer_over_576(576, 1500);
  EXPECT_TRUE(r.delivered);
  EXPECT_EQ(r.mtu_drops, 0u);
}

TEST(GapsMtu, TheLinkDropsAndCountsWhatStacksWithALargerMtuSend) {
  const MtuRun r = transfer_over_576(1500, 1500);
  EXPECT_GT(r.mtu_drops, 0u);
  EXPECT_EQ(r.largest_sent, 1500u);
}

// --- 4. socket options through Stack::set_options ---------------------------------------

TEST_F(GapsRaw, NoDelaySendsASmallSecondWriteBeforeTheFirstIsAcknowledged) {
  // Without no_delay (Nagle): the second small write waits for the first one's ACK.
  Handle h = connect();
  ASSERT_TRUE(s.send(h, bytes("a"), now));
  auto out = sent_by(s, now);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 1u);
  ASSERT_TRUE(s.send(h, bytes("b"), now));
  EXPECT_TRUE(sent_by(s, now).empty()) << "Nagle: a small segment waits while one is unacknowledged";
  out = inject(from_peer(1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, std::vector<std::uint8_t>{'b'});
  EXPECT_EQ(out[0].tcp->seq.raw(), iss + 2);

  // With no_delay, set on the open connection: both go at once.
  SocketOptions o;
  o.no_delay = true;
  ASSERT_EQ(s.set_options(h, o, now), Error::none);
  ASSERT_TRUE(s.send(h, bytes("c"), now));
  ASSERT_TRUE(s.send(h, bytes("d"), now));
  out = sent_by(s, now);
  // "b" is still unacknowledged; "c" and "d" go at once all the same.
  ASSERT_FALSE(out.empty());
  std::string on_wire;
  for (const auto& p : out) on_wire.append(p.payload.begin(), p.payload.end());
  EXPECT_EQ(on_wire, "cd");
  EXPECT_EQ(out[0].tcp->seq.raw(), iss + 3);
  EXPECT_EQ(s.info(h)->unacked, 3u);
}

TEST_F(GapsRaw, NoDelayWritesEachGoOutWhileEarlierOnesAreInFlight) {
  SocketOptions o;
  o.no_delay = true;
  Handle h = connect(&o);
  for (char ch : std::string("xyz")) {
    const char one[1] = {ch};
    ASSERT_TRUE(s.send(h, bytes({one, 1}), now));
    auto out = sent_by(s, now);
    ASSERT_EQ(out.size(), 1u) << ch;
    EXPECT_EQ(out[0].payload, std::vector<std::uint8_t>{static_cast<std::uint8_t>(ch)});
  }
  EXPECT_EQ(s.info(h)->unacked, 3u);
}

class GapsRawNoTune : public GapsRaw {
 protected:
  static StackConfig cfg() {
    StackConfig c = test_config();
    c.tcp.auto_tune = false;  // buffer sizes stay exactly what the application set
    return c;
  }
  GapsRawNoTune() : GapsRaw(cfg()) {}
};

TEST_F(GapsRawNoTune, RecvBufferBoundsTheAnnouncedWindow) {
  SocketOptions o;
  o.recv_buffer = 4000;
  Handle h = connect(&o);
  EXPECT_EQ(syn.tcp->window, 4000);  // the SYN's window is never scaled
  EXPECT_EQ(s.info(h)->recv_buffer, 4000u);
  EXPECT_EQ(s.info(h)->rcv_wnd, 4000u);
  // 1000 bytes unread: the window shrinks to what is left (the peer did not scale).
  s.receive(build_tcp_packet(from_peer(0, flag::ACK, std::string(1000, 'r'))), now);
  auto out = advance_to(now + 200ms);  // past the delayed ACK
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().tcp->ack.raw(), 7001u + 1000u);
  EXPECT_EQ(out.back().tcp->window, 3000);
  EXPECT_EQ(s.info(h)->recv_queued, 1000u);
  // More than the window is not accepted past the buffer.
  out = inject(from_peer(0, flag::ACK, std::string(4000, 'r'), 1000));
  EXPECT_EQ(s.info(h)->recv_queued, 4000u);
  EXPECT_LE(s.info(h)->bytes_received, 4000u);
}

TEST_F(GapsRaw, DefaultRecvBufferAnnouncesTheDefaultWindow) {
  Handle h = connect();
  EXPECT_EQ(syn.tcp->window, 65535);
  EXPECT_EQ(s.info(h)->recv_buffer, 64u * 1024u);
}

TEST_F(GapsRawNoTune, SendAcceptsNoMoreThanTheSendBuffer) {
  SocketOptions o;
  o.send_buffer = 3000;
  Handle h = connect(&o);
  EXPECT_EQ(s.info(h)->send_buffer, 3000u);
  std::vector<std::uint8_t> big(10000, 'w');
  auto r = s.send(h, big, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3000u);
  auto again = s.send(h, big, now);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), Error::would_block);
  auto out = sent_by(s, now);
  std::size_t on_wire = 0;
  for (const auto& p : out) on_wire += p.payload.size();
  EXPECT_EQ(on_wire, 3000u);
  // The peer acknowledges 1000: exactly that much room again.
  (void)inject(from_peer(1000));
  r = s.send(h, big, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 1000u);
}

TEST(GapsOptions, UpdateTakesEverySetFieldAndKeepsTheRest) {
  SocketOptions all;
  all.no_delay = true;
  all.keepalive = true;
  all.keepalive_idle = 11s;
  all.keepalive_interval = 12s;
  all.keepalive_probes = 13;
  all.user_timeout = 14s;
  all.send_buffer = 15000;
  all.recv_buffer = 16000;
  all.linger_zero = true;
  all.tos = 17;
  all.report_soft_errors = false;
  all.syn_timeout = 18s;
  all.no_options = true;
  all.congestion = CongestionAlgorithm::newreno;
  SocketOptions u;
  u.update(all);
  EXPECT_EQ(u.no_delay, all.no_delay);
  EXPECT_EQ(u.keepalive, all.keepalive);
  EXPECT_EQ(u.keepalive_idle, all.keepalive_idle);
  EXPECT_EQ(u.keepalive_interval, all.keepalive_interval);
  EXPECT_EQ(u.keepalive_probes, all.keepalive_probes);
  EXPECT_EQ(u.user_timeout, all.user_timeout);
  EXPECT_EQ(u.send_buffer, all.send_buffer);
  EXPECT_EQ(u.recv_buffer, all.recv_buffer);
  EXPECT_EQ(u.linger_zero, all.linger_zero);
  EXPECT_EQ(u.tos, all.tos);
  EXPECT_EQ(u.report_soft_errors, all.report_soft_errors);
  EXPECT_EQ(u.syn_timeout, all.syn_timeout);
  EXPECT_EQ(u.no_options, all.no_options);
  EXPECT_EQ(u.congestion, all.congestion);
  // Fields left unset keep their value.
  SocketOptions one;
  one.tos = 4;
  u.update(one);
  EXPECT_EQ(u.tos, std::optional<std::uint8_t>(4));
  EXPECT_EQ(u.send_buffer, all.send_buffer);
  EXPECT_EQ(u.congestion, all.congestion);
}

TEST_F(GapsRaw, ASendBufferTheUserSetIsKeptEvenWithAutoTuning) {
  SocketOptions o;
  o.send_buffer = 3000;
  Handle h = connect(&o);
  std::vector<std::uint8_t> big(1u << 20, 'w');
  auto r = s.send(h, big, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3000u);
  EXPECT_EQ(s.info(h)->send_buffer, 3000u);
  // Auto-tuning would have grown it to twice the congestion window (about 29 KB here).
  EXPECT_EQ(s.send(h, big, now).error(), Error::would_block);
}

// A bulk transfer over a 10 ms link; returns the receiver's buffer size at the end.
std::uint32_t receive_buffer_after_bulk(std::optional<std::uint32_t> recv_buffer) {
  Stack client(test_config("client", 1)), server(test_config("server", 2));
  client.add_interface({kUs, 24, 1500});
  server.add_interface({kPeer, 24, 1500});
  link::Impairments lc;
  lc.delay = 5ms;
  link::SimLink ln(lc, lc, 3);
  link::Simulation sim(client, server, ln);
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  auto c = client.open(kPeer, 80);
  EXPECT_TRUE(c.ok());
  if (!c) return 0;
  SocketOptions o;
  o.recv_buffer = recv_buffer;
  EXPECT_EQ(client.set_options(*c, o, sim.now()), Error::none);
  EXPECT_EQ(client.start(*c, sim.now()), Error::none);
  sim.run_to(sim.now() + 100ms);
  auto a = server.accept(*l);
  EXPECT_TRUE(a.ok());
  if (!a) return 0;
  std::vector<std::uint8_t> down(4u << 20, 'd');
  std::size_t sent = 0, got = 0;
  std::vector<std::uint8_t> buf(1u << 16);
  for (int i = 0; i < 20000 && got < down.size(); ++i) {
    if (sent < down.size()) {
      auto r = server.send(*a, std::span(down).subspan(sent), sim.now());
      if (r) sent += *r;
    }
    sim.run_to(sim.now() + 1ms);
    for (auto r = client.recv(*c, buf, sim.now()); r && *r > 0; r = client.recv(*c, buf, sim.now())) got += *r;
  }
  EXPECT_EQ(got, down.size());
  return client.info(*c)->recv_buffer;
}

TEST(GapsAutoTune, AReceiveBufferTheUserSetIsKept) {
  EXPECT_EQ(receive_buffer_after_bulk(16000), 16000u);
  // The control: the default buffer grows with what the application reads.
  EXPECT_GT(receive_buffer_after_bulk(std::nullopt), 64u * 1024u);
}

TEST_F(GapsRaw, UserTimeoutEndsAnUnansweredConnectionAfterThatTime) {
  SocketOptions o;
  o.user_timeout = 5s;
  Handle h = connect(&o);
  ASSERT_TRUE(s.send(h, bytes("hello?"), now));
  const Instant sent_at = now;
  (void)sent_by(s, now);
  // Retransmissions, no answer. Still open just before the user timeout...
  auto out = advance_to(sent_at + 4900ms);
  EXPECT_FALSE(out.empty());  // retransmissions
  EXPECT_NE(s.info(h)->state, TcpState::closed);
  EXPECT_EQ(count_kind(s.drain_events(), h, SocketEventKind::closed), 0u);
  // ... and closed with timed_out when it runs out: after 5 s, not the default 300 s.
  (void)advance_to(sent_at + 5s + 2ms);
  auto i = s.info(h);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->state, TcpState::closed);
  EXPECT_EQ(i->last_error, Error::timed_out);
  bool closed = false;
  for (const auto& e : s.drain_events()) {
    if (e.socket == h && e.kind == SocketEventKind::closed) {
      closed = true;
      EXPECT_EQ(e.error, Error::timed_out);
    }
  }
  EXPECT_TRUE(closed);
  std::uint8_t buf[4];
  EXPECT_EQ(s.recv(h, buf, now).error(), Error::timed_out);
}

TEST_F(GapsRaw, WithoutUserTimeoutTheConnectionOutlivesFiveSeconds) {
  Handle h = connect();
  ASSERT_TRUE(s.send(h, bytes("hello?"), now));
  const Instant sent_at = now;
  (void)sent_by(s, now);
  (void)advance_to(sent_at + 60s);
  EXPECT_EQ(s.info(h)->state, TcpState::established);
}

// --- 5. events: writable, closed ---------------------------------------------------------

TEST_F(GapsRawNoTune, WritableAfterAFullSendBufferIsAcknowledged) {
  SocketOptions o;
  o.send_buffer = 3000;
  Handle h = connect(&o);
  std::vector<std::uint8_t> big(5000, 'w');
  ASSERT_EQ(*s.send(h, big, now), 3000u);  // full
  (void)sent_by(s, now);
  EXPECT_EQ(count_kind(s.drain_events(), h, SocketEventKind::writable), 0u);
  // An ACK that frees nothing (a window update) is no reason to wake the writer.
  (void)inject(from_peer(0));
  EXPECT_EQ(count_kind(s.drain_events(), h, SocketEventKind::writable), 0u);
  (void)inject(from_peer(1000));
  EXPECT_EQ(count_kind(s.drain_events(), h, SocketEventKind::writable), 1u);
  EXPECT_EQ(*s.send(h, big, now), 1000u);
}

class GapsSim : public ::testing::Test {
 protected:
  static link::Impairments imp() {
    link::Impairments i;
    i.delay = 1ms;
    return i;
  }
  GapsSim()
      : client(test_config("client", 1)), server(test_config("server", 2)), ln(imp(), imp(), 5),
        sim(client, server, ln) {
    client.add_interface({kUs, 24, 1500});
    server.add_interface({kPeer, 24, 1500});
  }
  void run(Duration d) { sim.run_to(sim.now() + d); }
  // Connects; returns {client handle, server handle}; events so far drained.
  std::pair<Handle, Handle> open() {
    auto l = server.listen(Ipv4Addr{}, 80, 4);
    EXPECT_TRUE(l);
    Handle c = *client.connect(kPeer, 80, sim.now());
    run(10ms);
    Handle a = *server.accept(*l);
    client.drain_events();
    server.drain_events();
    return {c, a};
  }
  std::vector<SocketEvent> of(Stack& st, Handle h) {
    std::vector<SocketEvent> v;
    for (const auto& e : st.drain_events())
      if (e.socket == h) v.push_back(e);
    return v;
  }
  static std::vector<Error> closed_errors(const std::vector<SocketEvent>& v) {
    std::vector<Error> r;
    for (const auto& e : v)
      if (e.kind == SocketEventKind::closed) r.push_back(e.error);
    return r;
  }
  Stack client;
  Stack server;
  link::SimLink ln;
  link::Simulation sim;
};

TEST_F(GapsSim, ClosedWithNoErrorAfterAnOrderlyClose) {
  auto [c, a] = open();
  ASSERT_EQ(client.shutdown(c, sim.now()), Error::none);
  run(10ms);
  auto sev = of(server, a);
  EXPECT_EQ(count_kind(sev, a, SocketEventKind::peer_closed), 1u);
  EXPECT_TRUE(closed_errors(sev).empty());
  ASSERT_EQ(server.shutdown(a, sim.now()), Error::none);
  run(10ms);
  // The server (LAST-ACK, then CLOSED) hears of it at once; orderly: no error.
  EXPECT_EQ(closed_errors(of(server, a)), std::vector<Error>{Error::none});
  EXPECT_EQ(server.info(a)->state, TcpState::closed);
  EXPECT_EQ(server.info(a)->last_error, Error::none);
  // The client waits out TIME-WAIT first.
  auto cev = of(client, c);
  EXPECT_EQ(count_kind(cev, c, SocketEventKind::peer_closed), 1u);
  EXPECT_TRUE(closed_errors(cev).empty());
  EXPECT_EQ(client.info(c)->state, TcpState::time_wait);
  run(61s);
  EXPECT_EQ(closed_errors(of(client, c)), std::vector<Error>{Error::none});
  EXPECT_EQ(client.info(c)->state, TcpState::closed);
}

TEST_F(GapsSim, ClosedWithResetAfterAReset) {
  auto [c, a] = open();
  ASSERT_EQ(server.abort(a, sim.now()), Error::none);
  run(10ms);
  auto ev = of(client, c);
  ASSERT_EQ(count_kind(ev, c, SocketEventKind::reset), 1u);
  EXPECT_EQ(closed_errors(ev), std::vector<Error>{Error::reset});
  for (const auto& e : ev) {
    if (e.kind == SocketEventKind::reset) {
      EXPECT_EQ(e.error, Error::reset);
    }
  }
  // The reset comes before the closed event.
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.back().kind, SocketEventKind::closed);
  EXPECT_EQ(client.info(c)->state, TcpState::closed);
  EXPECT_EQ(client.counters().resets_in, 1u);
  EXPECT_EQ(server.counters().resets_out, 1u);
}

// --- 6. counters --------------------------------------------------------------------------

TEST_F(GapsRaw, CountersOfAScriptedExchange) {
  Handle h = connect();
  // So far: SYN out, SYN-ACK in, ACK out.
  auto i = *s.info(h);
  EXPECT_EQ(i.segments_out, 2u);
  EXPECT_EQ(i.segments_in, 1u);
  EXPECT_EQ(s.counters().segments_out, 2u);
  EXPECT_EQ(s.counters().segments_in, 1u);
  // Three full segments.
  std::vector<std::uint8_t> data(3000, 'd');
  ASSERT_EQ(*s.send(h, data, now), 3000u);
  auto out = sent_by(s, now);
  ASSERT_EQ(out.size(), 3u);
  now += 10ms;
  // The first arrives, the second is lost: one new ACK, then a duplicate for the third.
  EXPECT_TRUE(inject(from_peer(1000)).empty());
  EXPECT_TRUE(inject(from_peer(1000)).empty());
  i = *s.info(h);
  EXPECT_EQ(i.dupacks_received, 1u);
  EXPECT_EQ(i.retransmissions, 0u);
  // Two more duplicates: the third triggers the fast retransmit of the second segment.
  EXPECT_TRUE(inject(from_peer(1000)).empty());
  out = inject(from_peer(1000));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->seq.raw(), iss + 1 + 1000);
  EXPECT_EQ(out[0].payload.size(), 1000u);
  i = *s.info(h);
  EXPECT_EQ(i.dupacks_received, 3u);
  EXPECT_EQ(i.retransmissions, 1u);
  EXPECT_EQ(s.counters().retransmissions, 1u);
  // Everything is acknowledged; then the retransmission timer never fires.
  EXPECT_TRUE(inject(from_peer(3000)).empty());
  (void)advance_to(now + 10s);
  i = *s.info(h);
  EXPECT_EQ(i.segments_in, 1u + 5u);
  EXPECT_EQ(i.segments_out, 2u + 3u + 1u);
  EXPECT_EQ(i.retransmissions, 1u);
  EXPECT_EQ(i.bytes_acked, 3000u);
  EXPECT_EQ(s.counters().retransmissions, 1u);
  EXPECT_EQ(s.counters().segments_out, 6u);
  EXPECT_EQ(s.counters().segments_in, 6u);
  // Now an RTO: one more segment, unanswered for the RTO, is sent again.
  ASSERT_EQ(*s.send(h, bytes("x"), now), 1u);
  EXPECT_EQ(sent_by(s, now).size(), 1u);
  out = advance_to(now + s.info(h)->rto);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload, std::vector<std::uint8_t>{'x'});
  EXPECT_EQ(s.info(h)->retransmissions, 2u);
  EXPECT_EQ(s.info(h)->timeouts, 1u);
  EXPECT_EQ(s.counters().retransmissions, 2u);
  // The peer resets: counted as a reset received.
  EXPECT_EQ(s.counters().resets_in, 0u);
  EXPECT_TRUE(inject(from_peer(3000, flag::RST)).empty());
  EXPECT_EQ(s.counters().resets_in, 1u);
  EXPECT_EQ(s.counters().resets_out, 0u);
  EXPECT_EQ(s.info(h)->state, TcpState::closed);
  EXPECT_EQ(s.counters().segments_in, 7u);
  EXPECT_EQ(s.counters().segments_out, 8u);
  // An RST for no connection is counted as received too (and not answered).
  EXPECT_TRUE(inject({.sport = 9999, .dport = 4444, .seq = 1, .flags = flag::RST}).empty());
  EXPECT_EQ(s.counters().resets_in, 2u);
  EXPECT_EQ(s.counters().resets_out, 0u);
}

// --- 7. the trace stream ------------------------------------------------------------------

struct Recorder : TraceSink {
  void on_trace(const TraceEvent& e) override { events.push_back(e); }
  std::vector<TraceEvent> of(TraceKind k) const {
    std::vector<TraceEvent> v;
    for (const auto& e : events)
      if (e.kind == k) v.push_back(e);
    return v;
  }
  std::vector<TraceEvent> events;
};

TEST_F(GapsRaw, TraceSinkSeesStateChangesSegmentsWithOptionsAndDrops) {
  Recorder rec;
  s.set_trace(&rec);
  Handle h = connect();
  // The active open, then ESTABLISHED on the SYN-ACK.
  auto st = rec.of(TraceKind::state_change);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].from, TcpState::closed);
  EXPECT_EQ(st[0].to, TcpState::syn_sent);
  EXPECT_EQ(st[0].cause, StateCause::user_open_active);
  EXPECT_EQ(st[0].conn, h);
  EXPECT_EQ(st[1].from, TcpState::syn_sent);
  EXPECT_EQ(st[1].to, TcpState::established);
  EXPECT_EQ(st[1].cause, StateCause::rcv_syn_ack);
  EXPECT_EQ(st[1].conn, h);
  EXPECT_STREQ(st[1].stack, "test");
  // The SYN with all its header fields and options.
  auto outs = rec.of(TraceKind::segment_out);
  ASSERT_EQ(outs.size(), 2u);
  const TraceSegment& synt = outs[0].segment;
  EXPECT_EQ(synt.flags, flag::SYN);
  EXPECT_EQ(synt.src_addr, kUs.value);
  EXPECT_EQ(synt.dst_addr, kPeer.value);
  EXPECT_EQ(synt.src_port, port);
  EXPECT_EQ(synt.dst_port, 80);
  EXPECT_EQ(synt.seq, iss);
  EXPECT_EQ(synt.window, syn.tcp->window);
  EXPECT_EQ(synt.payload_len, 0u);
  EXPECT_FALSE(synt.retransmission);
  EXPECT_TRUE(synt.options.has_mss);
  EXPECT_EQ(synt.options.mss, 1460);
  EXPECT_TRUE(synt.options.has_wscale);
  EXPECT_EQ(synt.options.wscale, syn.tcp->options.wscale);
  EXPECT_TRUE(synt.options.sack_permitted);
  EXPECT_TRUE(synt.options.has_timestamps);
  EXPECT_EQ(synt.options, syn.tcp->options);  // exactly what went on the wire
  // The SYN-ACK in, as the peer sent it.
  auto ins = rec.of(TraceKind::segment_in);
  ASSERT_EQ(ins.size(), 1u);
  EXPECT_EQ(ins[0].segment.flags, flag::SYN | flag::ACK);
  EXPECT_EQ(ins[0].segment.seq, 7000u);
  EXPECT_EQ(ins[0].segment.ack, iss + 1);
  EXPECT_EQ(ins[0].segment.window, 65535);
  EXPECT_EQ(ins[0].segment.src_addr, kPeer.value);
  EXPECT_EQ(ins[0].segment.src_port, 80);
  EXPECT_EQ(ins[0].segment.dst_port, port);
  EXPECT_TRUE(ins[0].segment.options.has_mss);
  EXPECT_EQ(ins[0].segment.options.mss, 1000);
  EXPECT_FALSE(ins[0].segment.options.has_wscale);
  EXPECT_EQ(ins[0].conn, h);
  // The ACK that completes the handshake.
  EXPECT_EQ(outs[1].segment.flags, flag::ACK);
  EXPECT_EQ(outs[1].segment.seq, iss + 1);
  EXPECT_EQ(outs[1].segment.ack, 7001u);

  // Data far outside the window: dropped with its reason (and answered with an ACK).
  rec.events.clear();
  auto out = inject(from_peer(0, flag::ACK, "zz", 1000000));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::ACK);
  auto drops = rec.of(TraceKind::drop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].drop, DropReason::tcp_not_acceptable);
  EXPECT_EQ(drops[0].conn, h);
  EXPECT_EQ(drops[0].segment.seq, 7001u + 1000000u);
  EXPECT_EQ(drops[0].segment.payload_len, 2u);
  EXPECT_EQ(drops[0].segment.src_port, 80);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_not_acceptable), 1u);
  // The segment came in before it was dropped; the ACK went out after.
  ASSERT_EQ(rec.events.size(), 3u);
  EXPECT_EQ(rec.events[0].kind, TraceKind::segment_in);
  EXPECT_EQ(rec.events[1].kind, TraceKind::drop);
  EXPECT_EQ(rec.events[2].kind, TraceKind::segment_out);

  // A reset: ESTABLISHED -> CLOSED, caused by the RST.
  rec.events.clear();
  (void)inject(from_peer(0, flag::RST));
  st = rec.of(TraceKind::state_change);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].from, TcpState::established);
  EXPECT_EQ(st[0].to, TcpState::closed);
  EXPECT_EQ(st[0].cause, StateCause::rcv_rst);
  s.set_trace(nullptr);
}

// Drops before any connection is found are traced too, with what is known of the packet:
// a bad checksum and a packet for another address with their IP addresses, a segment for
// a port nobody listens on with its TCP fields. Each is counted once.
TEST_F(GapsRaw, DropsBeforeAConnectionIsFoundAreTracedWithTheirReason) {
  Recorder rec;
  s.set_trace(&rec);
  (void)inject({.sport = 4000, .dport = 9999, .seq = 5, .flags = flag::SYN, .bad_checksum = true});
  (void)inject({.dst = Ipv4Addr::of(10, 0, 0, 77), .sport = 4000, .dport = 9999, .flags = flag::SYN});
  auto out = inject({.sport = 4000, .dport = 9999, .seq = 5, .flags = flag::SYN});
  ASSERT_EQ(out.size(), 1u);  // the RFC 9293 section 3.10.7.1 reset
  EXPECT_EQ(out[0].tcp->flags, flag::RST | flag::ACK);
  auto drops = rec.of(TraceKind::drop);
  ASSERT_EQ(drops.size(), 3u);
  EXPECT_EQ(drops[0].drop, DropReason::tcp_bad_checksum);
  EXPECT_EQ(drops[0].segment.src_addr, kPeer.value);
  EXPECT_EQ(drops[0].segment.dst_addr, kUs.value);
  EXPECT_EQ(drops[1].drop, DropReason::ip_not_for_us);
  EXPECT_EQ(drops[1].segment.dst_addr, Ipv4Addr::of(10, 0, 0, 77).value);
  EXPECT_EQ(drops[2].drop, DropReason::tcp_no_socket);
  EXPECT_EQ(drops[2].segment.src_port, 4000);
  EXPECT_EQ(drops[2].segment.dst_port, 9999);
  EXPECT_EQ(drops[2].segment.seq, 5u);
  EXPECT_EQ(drops[2].segment.flags, flag::SYN);
  for (auto r : {DropReason::tcp_bad_checksum, DropReason::ip_not_for_us, DropReason::tcp_no_socket}) {
    EXPECT_EQ(s.counters().drop_count(r), 1u) << to_string(r);
  }
  s.set_trace(nullptr);
}

TEST_F(GapsRaw, TraceShowsARetransmissionAsSuch) {
  Recorder rec;
  Handle h = connect();
  s.set_trace(&rec);
  ASSERT_TRUE(s.send(h, bytes("again"), now));
  (void)sent_by(s, now);
  (void)advance_to(now + 5s);
  auto outs = rec.of(TraceKind::segment_out);
  ASSERT_GE(outs.size(), 2u);
  EXPECT_FALSE(outs[0].segment.retransmission);
  EXPECT_TRUE(outs[1].segment.retransmission);
  EXPECT_EQ(outs[1].segment.seq, outs[0].segment.seq);
  EXPECT_EQ(outs[1].segment.payload_len, 5u);
  EXPECT_FALSE(rec.of(TraceKind::timer).empty());
  s.set_trace(nullptr);
}

// Both listener overflows (a SYN dropped, a handshake-completing ACK ignored) appear in the
// trace as drops with their reason, like the drops inside a connection.
class GapsListenerTrace : public GapsListener {};

TEST_F(GapsListenerTrace, ListenOverflowDropsAreTracedWithTheirReason) {
  Recorder rec;
  auto l = s.listen(Ipv4Addr{}, 80, 2);
  ASSERT_TRUE(l);
  const std::uint32_t a = syn_from(6001);
  const std::uint32_t b = syn_from(6002);
  (void)ack_from(6001, a);
  const std::uint32_t c = syn_from(6003);
  (void)ack_from(6003, c);
  ASSERT_EQ(s.info(*l)->accept_queue, 2u);
  s.set_trace(&rec);
  // B's ACK, ignored while the accept queue is full.
  EXPECT_TRUE(ack_from(6002, b).empty());
  auto drops = rec.of(TraceKind::drop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].drop, DropReason::tcp_listen_overflow);
  EXPECT_EQ(drops[0].segment.src_port, 6002);
  EXPECT_EQ(drops[0].segment.dst_port, 80);
  EXPECT_EQ(drops[0].segment.flags, flag::ACK);
  EXPECT_EQ(drops[0].segment.ack, b + 1);
  EXPECT_EQ(drops[0].segment.src_addr, kPeer.value);
  // A new SYN, dropped for the same reason.
  rec.events.clear();
  EXPECT_TRUE(inject({.sport = 6004, .seq = 1000, .flags = flag::SYN, .mss = 1460}).empty());
  drops = rec.of(TraceKind::drop);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].drop, DropReason::tcp_listen_overflow);
  EXPECT_EQ(drops[0].segment.src_port, 6004);
  EXPECT_EQ(drops[0].segment.flags, flag::SYN);
  EXPECT_EQ(drops[0].segment.seq, 1000u);
  EXPECT_FALSE(drops[0].conn.valid());  // it reached no connection
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_listen_overflow), 2u);
  EXPECT_EQ(s.counters().listen_overflows, 2u);
  s.set_trace(nullptr);
}

// --- 8. TcpConfig::min_rto ---------------------------------------------------------------

// After one data exchange with a 10 ms round trip, how long the next unanswered segment
// waits for its first retransmission.
Duration first_retransmission_after_small_rtt(Duration min_rto, Duration* rto_seen) {
  StackConfig c = test_config();
  c.tcp.min_rto = min_rto;
  Stack s(c);
  s.add_interface({kUs, 24, 1500});
  Instant now = at(10s);
  Handle h = *s.connect(kPeer, 80, now);
  auto out = sent_by(s, now);
  const std::uint32_t iss = out.at(0).tcp->seq.raw();
  const std::uint16_t port = out.at(0).tcp->src_port;
  now += 10ms;
  s.receive(build_tcp_packet({.sport = 80, .dport = port, .seq = 7000, .ack = iss + 1,
                              .flags = flag::SYN | flag::ACK, .mss = 1000}),
            now);
  (void)sent_by(s, now);
  // A round trip of 10 ms measured on data.
  (void)s.send(h, bytes("ping"), now);
  (void)sent_by(s, now);
  now += 10ms;
  s.receive(build_tcp_packet({.sport = 80, .dport = port, .seq = 7001, .ack = iss + 5, .flags = flag::ACK}), now);
  (void)sent_by(s, now);
  const auto info = *s.info(h);
  EXPECT_LE(info.srtt, 10ms);
  EXPECT_GT(info.srtt, Duration::zero());
  *rto_seen = info.rto;
  // The next segment goes unanswered.
  (void)s.send(h, bytes("lost"), now);
  EXPECT_EQ(sent_by(s, now).size(), 1u);
  const Instant sent_at = now;
  for (int i = 0; i < 100000; ++i) {
    const Instant d = s.next_deadline();
    if (d == kNever) break;
    now = std::max(now, d);
    s.poll(now);
    for (const auto& p : sent_by(s, now))
      if (p.tcp && p.payload.size() == 4) return now - sent_at;
  }
  return Duration::max();
}

TEST(GapsMinRto, OneSecondMinRtoHoldsTheFirstRetransmissionForOneSecond) {
  Duration rto{};
  const Duration d = first_retransmission_after_small_rtt(1s, &rto);
  EXPECT_EQ(rto, 1s);
  EXPECT_GE(d, 1s);
  EXPECT_LE(d, 1s + 2ms);  // the timer wheel's tick
}

TEST(GapsMinRto, DefaultMinRtoRetransmitsAfter200Ms) {
  Duration rto{};
  const Duration d = first_retransmission_after_small_rtt(200ms, &rto);
  EXPECT_EQ(rto, 200ms);
  EXPECT_GE(d, 200ms);
  EXPECT_LE(d, 202ms);
}

}  // namespace
}  // namespace synfin::test

// The socket API between two stacks over the simulated link: demultiplexing, listener
// backlogs, ephemeral ports, handles, events, close and abort.
#include <set>

#include "link/simulation.hpp"
#include "stack/raw_peer.hpp"

namespace synfin::test {
namespace {

const Ipv4Addr kClient = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kServer = Ipv4Addr::of(10, 0, 0, 2);

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class TwoStacks : public ::testing::Test {
 protected:
  explicit TwoStacks(StackConfig cc = test_config("client", 1), StackConfig sc = test_config("server", 2))
      : client(cc), server(sc), link(imp(), imp(), 42), sim(client, server, link) {
    client.add_interface({kClient, 24, 1500});
    server.add_interface({kServer, 24, 1500});
  }
  static link::Impairments imp() {
    link::Impairments i;
    i.delay = Duration{1000};
    return i;
  }
  void run(Duration d) { sim.run_to(sim.now() + d); }
  std::string read_all(Stack& s, Handle h) {
    std::string out;
    std::uint8_t buf[4096];
    while (true) {
      auto r = s.recv(h, buf, sim.now());
      if (!r || *r == 0) break;
      out.append(reinterpret_cast<char*>(buf), *r);
    }
    return out;
  }
  std::vector<SocketEvent> events_of(Stack& s, Handle h) {
    std::vector<SocketEvent> v;
    for (const auto& e : s.drain_events())
      if (e.socket == h) v.push_back(e);
    return v;
  }
  static bool has(const std::vector<SocketEvent>& v, SocketEventKind k) {
    for (const auto& e : v)
      if (e.kind == k) return true;
    return false;
  }

  Stack client;
  Stack server;
  link::SimLink link;
  link::Simulation sim;
};

TEST_F(TwoStacks, HundredConnectionsAreDemultiplexedByTuple) {
  auto l = server.listen(Ipv4Addr{}, 80, 128);
  ASSERT_TRUE(l);
  std::vector<Handle> clients;
  for (int i = 0; i < 100; ++i) {
    auto h = client.connect(kServer, 80, sim.now());
    ASSERT_TRUE(h);
    clients.push_back(*h);
  }
  run(100ms);
  std::vector<Handle> accepted;
  for (auto a = server.accept(*l); a; a = server.accept(*l)) accepted.push_back(*a);
  ASSERT_EQ(accepted.size(), 100u);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(client.send(clients[i], bytes("hello " + std::to_string(i)), sim.now()));
  run(100ms);
  // Each server socket echoes what it got, prefixed; each client must get its own answer.
  for (Handle a : accepted) {
    const std::string got = read_all(server, a);
    ASSERT_TRUE(server.send(a, bytes("re: " + got), sim.now()));
  }
  run(100ms);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(read_all(client, clients[i]), "re: hello " + std::to_string(i));
  std::set<std::uint16_t> ports;
  for (Handle h : clients) ports.insert(client.info(h)->local_port);
  EXPECT_EQ(ports.size(), 100u);
}

TEST_F(TwoStacks, EphemeralPortsAreRandomAndInRange) {
  auto l = server.listen(Ipv4Addr{}, 80, 64);
  ASSERT_TRUE(l);
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 50; ++i) {
    auto h = client.connect(kServer, 80, sim.now());
    ASSERT_TRUE(h);
    ports.push_back(client.info(*h)->local_port);
  }
  int sequential = 0;
  for (std::size_t i = 1; i < ports.size(); ++i) {
    EXPECT_GE(ports[i], 49152);
    if (ports[i] == ports[i - 1] + 1) ++sequential;
  }
  EXPECT_LT(sequential, 49) << "ports were handed out in order, not at random (RFC 6056)";
}

TEST_F(TwoStacks, ExhaustedPortRangeAndTimeWaitBlockReuse) {
  StackConfig cc = test_config("client", 1);
  cc.ephemeral_low = 40000;
  cc.ephemeral_high = 40003;
  Stack c(cc);
  c.add_interface({kClient, 24, 1500});
  link::SimLink ln(imp(), imp(), 1);
  link::Simulation sm(c, server, ln);
  auto l = server.listen(Ipv4Addr{}, 80, 16);
  ASSERT_TRUE(l);
  std::vector<Handle> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(*c.connect(kServer, 80, sm.now()));
  auto fifth = c.connect(kServer, 80, sm.now());
  ASSERT_FALSE(fifth.ok());
  EXPECT_EQ(fifth.error(), Error::address_in_use);
  sm.run_to(sm.now() + 50ms);
  // The client closes first: its four 4-tuples sit in TIME-WAIT and stay taken.
  for (Handle h : hs) (void)c.close(h, sm.now());
  for (auto a = server.accept(*l); a; a = server.accept(*l)) (void)server.close(*a, sm.now());
  sm.run_to(sm.now() + 1s);
  EXPECT_EQ(c.counters().connections_by_state[static_cast<int>(TcpState::time_wait)], 4u);
  EXPECT_EQ(c.connect(kServer, 80, sm.now()).error(), Error::address_in_use);
  // After 2 MSL they are free again.
  sm.run_to(sm.now() + 61s);
  EXPECT_EQ(c.connection_count(), 0u);
  EXPECT_TRUE(c.connect(kServer, 80, sm.now()).ok());
}

TEST_F(TwoStacks, ExplicitLocalPortInUseIsRefused) {
  ASSERT_TRUE(client.connect(kServer, 80, sim.now(), {kClient, 5000}));
  auto again = client.connect(kServer, 80, sim.now(), {kClient, 5000});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), Error::address_in_use);
  EXPECT_TRUE(client.connect(kServer, 81, sim.now(), {kClient, 5000}));  // another 4-tuple
}

TEST_F(TwoStacks, BacklogFullDropsSynsAndTheyGetInLater) {
  auto l = server.listen(Ipv4Addr{}, 80, 2);
  ASSERT_TRUE(l);
  std::vector<Handle> hs;
  for (int i = 0; i < 5; ++i) hs.push_back(*client.connect(kServer, 80, sim.now()));
  run(500ms);
  auto li = server.info(*l);
  ASSERT_TRUE(li);
  EXPECT_EQ(li->accept_queue, 2u);  // bounded
  EXPECT_GE(server.counters().listen_overflows, 3u);
  EXPECT_GE(server.counters().drop_count(DropReason::tcp_listen_overflow), 3u);
  int connected = 0;
  for (Handle h : hs)
    if (client.info(h)->state == TcpState::established) ++connected;
  EXPECT_EQ(connected, 2);
  // The application accepts; the others' retransmitted SYNs now get in.
  int accepted = 0;
  for (int round = 0; round < 20 && accepted < 5; ++round) {
    for (auto a = server.accept(*l); a; a = server.accept(*l)) ++accepted;
    run(2s);
  }
  EXPECT_EQ(accepted, 5);
  for (Handle h : hs) EXPECT_EQ(client.info(h)->state, TcpState::established);
}

// A SYN that arrives while the accept queue is full is dropped (no half-open connection is
// made) and gets in on a retransmission once accept() has made room. The other overflow
// path, the handshake-completing ACK ignored while the queue is full, is tested against a
// raw peer in stack_gaps_test.cpp (GapsListener.AcceptQueueFullIgnoresTheHandshakeAck...).
TEST_F(TwoStacks, AcceptQueueFullDropsNewSynsUntilAnAccept) {
  StackConfig sc = test_config("server", 2);
  sc.max_syn_backlog = 8;
  Stack sv(sc);
  sv.add_interface({kServer, 24, 1500});
  link::SimLink ln(imp(), imp(), 3);
  link::Simulation sm(client, sv, ln);
  auto l = sv.listen(Ipv4Addr{}, 80, 1);
  ASSERT_TRUE(l);
  Handle a = *client.connect(kServer, 80, sm.now());
  sm.run_to(sm.now() + 20ms);
  EXPECT_EQ(sv.info(*l)->accept_queue, 1u);
  // A second SYN arrives while the accept queue is full: dropped, counted.
  Handle b = *client.connect(kServer, 80, sm.now());
  sm.run_to(sm.now() + 20ms);
  EXPECT_EQ(client.info(b)->state, TcpState::syn_sent);
  EXPECT_EQ(sv.info(*l)->syn_queue, 0u);  // the SYN made no half-open connection
  EXPECT_EQ(sv.connection_count(), 1u);
  EXPECT_GE(sv.counters().listen_overflows, 1u);
  EXPECT_GE(sv.counters().drop_count(DropReason::tcp_listen_overflow), 1u);
  ASSERT_TRUE(sv.accept(*l));
  sm.run_to(sm.now() + 5s);
  EXPECT_EQ(client.info(b)->state, TcpState::established);
  EXPECT_EQ(client.info(a)->state, TcpState::established);
}

TEST_F(TwoStacks, EventsAndEndOfStream) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  auto lev = events_of(server, *l);
  EXPECT_TRUE(has(lev, SocketEventKind::accept_ready));
  Handle s = *server.accept(*l);
  EXPECT_TRUE(has(events_of(client, c), SocketEventKind::connected));
  ASSERT_TRUE(client.send(c, bytes("ping"), sim.now()));
  ASSERT_EQ(client.shutdown(c, sim.now()), Error::none);
  // No more sends after shutdown.
  auto late = client.send(c, bytes("x"), sim.now());
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error(), Error::closing);
  run(10ms);
  auto sev = events_of(server, s);
  EXPECT_TRUE(has(sev, SocketEventKind::readable));
  EXPECT_TRUE(has(sev, SocketEventKind::peer_closed));
  std::uint8_t buf[16];
  EXPECT_EQ(*server.recv(s, buf, sim.now()), 4u);
  EXPECT_EQ(*server.recv(s, buf, sim.now()), 0u);  // end of stream, again and again
  EXPECT_EQ(*server.recv(s, buf, sim.now()), 0u);
  // Half-close: the server still sends after the client's FIN.
  ASSERT_TRUE(server.send(s, bytes("pong"), sim.now()));
  ASSERT_EQ(server.close(s, sim.now()), Error::none);
  run(10ms);
  EXPECT_EQ(read_all(client, c), "pong");
  EXPECT_EQ(client.info(c)->state, TcpState::time_wait);
  ASSERT_EQ(client.close(c, sim.now()), Error::none);
  run(61s);
  EXPECT_EQ(client.connection_count(), 0u);
  EXPECT_EQ(server.connection_count(), 0u);
  EXPECT_EQ(client.timer_count(), 0u);
  EXPECT_EQ(server.timer_count(), 0u);
}

TEST_F(TwoStacks, HandlesAreSafeAfterTheConnectionIsGone) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  ASSERT_EQ(client.abort(c, sim.now()), Error::none);
  std::uint8_t buf[4];
  EXPECT_EQ(client.recv(c, buf, sim.now()).error(), Error::not_connected);
  EXPECT_EQ(client.send(c, buf, sim.now()).error(), Error::not_connected);
  EXPECT_EQ(client.close(c, sim.now()), Error::not_connected);
  EXPECT_FALSE(client.info(c).ok());
  // The slot is reused by a new connection; the old handle still does not reach it.
  Handle c2 = *client.connect(kServer, 80, sim.now());
  EXPECT_EQ(c2.index, c.index);
  EXPECT_NE(c2.generation, c.generation);
  EXPECT_EQ(client.send(c, buf, sim.now()).error(), Error::not_connected);
  EXPECT_EQ(client.accept(Handle{}).error(), Error::not_connected);
  EXPECT_EQ(client.accept(c2).error(), Error::invalid_state);
  (void)l;
}

TEST_F(TwoStacks, PeerResetIsReportedAsReset) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  Handle s = *server.accept(*l);
  client.drain_events();
  ASSERT_EQ(server.abort(s, sim.now()), Error::none);
  run(10ms);
  auto ev = events_of(client, c);
  ASSERT_TRUE(has(ev, SocketEventKind::reset));
  std::uint8_t buf[4];
  EXPECT_EQ(client.recv(c, buf, sim.now()).error(), Error::reset);
  EXPECT_EQ(client.info(c)->last_error, Error::reset);
}

TEST_F(TwoStacks, ConnectToAClosedPortIsRefused) {
  Handle c = *client.connect(kServer, 81, sim.now());
  run(10ms);
  auto ev = events_of(client, c);
  ASSERT_TRUE(has(ev, SocketEventKind::reset));
  EXPECT_EQ(client.info(c)->last_error, Error::refused);
}

TEST_F(TwoStacks, Shld3CloseWithUnreadDataResets) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  Handle s = *server.accept(*l);
  ASSERT_TRUE(client.send(c, bytes("unread"), sim.now()));
  run(10ms);
  const auto resets = server.counters().resets_out;
  ASSERT_EQ(server.close(s, sim.now()), Error::none);
  EXPECT_EQ(server.counters().resets_out, resets + 1);
  run(10ms);
  EXPECT_TRUE(has(events_of(client, c), SocketEventKind::reset));
}

TEST_F(TwoStacks, LingerZeroCloseResets) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  Handle s = *server.accept(*l);
  SocketOptions o;
  o.linger_zero = true;
  ASSERT_EQ(client.set_options(c, o, sim.now()), Error::none);
  ASSERT_EQ(client.close(c, sim.now()), Error::none);
  run(10ms);
  EXPECT_EQ(client.connection_count(), 0u);  // no TIME-WAIT after an abort
  std::uint8_t buf[4];
  EXPECT_EQ(server.recv(s, buf, sim.now()).error(), Error::reset);
}

TEST_F(TwoStacks, ClosingTheListenerResetsUnacceptedConnections) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  ASSERT_EQ(server.close(*l, sim.now()), Error::none);
  run(10ms);
  EXPECT_TRUE(has(events_of(client, c), SocketEventKind::reset));
  EXPECT_EQ(server.connection_count(), 0u);
  EXPECT_EQ(server.listener_count(), 0u);
  // And the port answers with RST now.
  Handle d = *client.connect(kServer, 80, sim.now());
  run(10ms);
  EXPECT_EQ(client.info(d)->last_error, Error::refused);
}

TEST_F(TwoStacks, May2NewSynInTimeWaitOpensANewIncarnation) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now(), {kClient, 7000});
  run(10ms);
  Handle s = *server.accept(*l);
  // The server closes first and holds TIME-WAIT.
  ASSERT_EQ(server.close(s, sim.now()), Error::none);
  run(10ms);
  ASSERT_EQ(client.close(c, sim.now()), Error::none);
  run(10ms);
  ASSERT_EQ(server.counters().connections_by_state[static_cast<int>(TcpState::time_wait)], 1u);
  // The same 4-tuple again, a few seconds later: the new ISN lies beyond the old one.
  run(5s);
  Handle c2 = *client.connect(kServer, 80, sim.now(), {kClient, 7000});
  run(20ms);
  EXPECT_EQ(client.info(c2)->state, TcpState::established);
  EXPECT_TRUE(server.accept(*l).ok());
}

TEST_F(TwoStacks, CountersAddUp) {
  auto l = server.listen(Ipv4Addr{}, 80, 4);
  Handle c = *client.connect(kServer, 80, sim.now());
  run(10ms);
  (void)l;
  EXPECT_EQ(client.counters().segments_out, 2u);  // SYN, ACK
  EXPECT_EQ(server.counters().segments_in, 2u);
  EXPECT_EQ(server.counters().segments_out, 1u);  // SYN-ACK
  EXPECT_EQ(client.counters().connections_opened, 1u);
  EXPECT_EQ(server.counters().connections_accepted, 1u);
  EXPECT_EQ(client.counters().connections_by_state[static_cast<int>(TcpState::established)], 1u);
  EXPECT_EQ(client.counters().total_drops(), 0u);
  (void)c;
}

}  // namespace
}  // namespace synfin::test

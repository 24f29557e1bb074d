// The simulation property harness. See sim_harness.hpp.
#include "sim/sim_harness.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "link/simulation.hpp"
#include "synfin/stack.hpp"

namespace synfin::test {

namespace {

const Ipv4Addr kClient = Ipv4Addr::of(10, 1, 0, 1);
const Ipv4Addr kServer = Ipv4Addr::of(10, 1, 0, 2);

std::uint8_t pattern(std::uint64_t salt, std::size_t i) {
  return static_cast<std::uint8_t>((i * 131 + (i >> 8) * 7 + salt) & 0xff);
}

StackConfig config(const char* name, std::uint64_t seed) {
  StackConfig c;
  c.name = name;
  c.seed = seed;
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(seed + i * 29 + name[0]);
  // Reliability, not give-up policy, is under test: the connection must survive heavy loss.
  c.tcp.r2_timeout = 3600s;
  c.tcp.syn_r2_timeout = 3600s;
  c.tcp.syn_received_timeout = 3600s;
  return c;
}

// One side of the conversation: sends its pattern, checks what it receives.
struct Peer {
  Stack* stack = nullptr;
  std::optional<Handle> h;
  std::uint64_t send_salt = 0;
  std::uint64_t recv_salt = 0;
  std::size_t to_send = 0;
  std::size_t sent = 0;
  std::size_t expect = 0;
  std::size_t received = 0;
  bool eof = false;
  bool shut = false;
  bool closed = false;
  bool connected = false;
  bool reset = false;
  std::string error;

  void pump_send(Instant now) {
    std::uint8_t buf[16384];
    while (h && !shut && !closed && sent < to_send) {
      const std::size_t n = std::min(sizeof buf, to_send - sent);
      for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(send_salt, sent + i);
      auto r = stack->send(*h, {buf, n}, now);
      if (!r || *r == 0) break;
      sent += *r;
    }
  }
  void pump_recv(Instant now) {
    std::uint8_t buf[16384];
    while (h && !eof && !closed) {
      auto r = stack->recv(*h, buf, now);
      if (!r) {
        if (r.error() != Error::would_block) {
          reset = true;
          eof = true;
        }
        break;
      }
      if (*r == 0) {
        eof = true;
        break;
      }
      for (std::size_t i = 0; i < *r; ++i) {
        if (buf[i] != pattern(recv_salt, received + i) && error.empty()) {
          error = fmt::format("{}: byte {} corrupted", stack->config().name, received + i);
        }
      }
      received += *r;
    }
  }
  bool all_sent() const { return sent == to_send; }
};

}  // namespace

std::string describe(const SimCase& c) {
  static const char* orders[] = {"client_first", "server_first", "simultaneous", "half_close", "client_abort"};
  return fmt::format("seed={} loss={:.3f} dup={:.3f} reorder={:.3f} corrupt={:.3f} jitter={}us rate={} "
                     "c2s={} s2c={} order={}",
                     c.seed, c.imp.loss, c.imp.duplicate, c.imp.reorder, c.imp.corrupt, c.imp.jitter.count(),
                     c.imp.bandwidth_bps, c.client_bytes, c.server_bytes, orders[static_cast<int>(c.order)]);
}

SimOutcome run_sim_case(const SimCase& c) {
  SimOutcome out;
  Stack client(config("client", c.seed));
  Stack server(config("server", c.seed * 7 + 3));
  client.add_interface({kClient, 24, 1500});
  server.add_interface({kServer, 24, 1500});
  link::SimLink wire(c.imp, c.imp, c.seed);
  link::Simulation sim(client, server, wire);

  auto listener = server.listen(Ipv4Addr{}, 80, 8);
  if (!listener) return {false, "listen failed"};
  Peer cl{&client}, sv{&server};
  cl.send_salt = sv.recv_salt = c.seed;
  sv.send_salt = cl.recv_salt = c.seed ^ 0x5a;
  cl.to_send = sv.expect = c.client_bytes;
  sv.to_send = cl.expect = c.server_bytes;
  auto ch = client.connect(kServer, 80, sim.now());
  if (!ch) return {false, "connect failed"};
  cl.h = *ch;
  bool aborted = false;
  const std::size_t abort_after = c.server_bytes / 3;
  // In half_close the server must not send before the client's FIN.
  const std::size_t half_close_bytes = c.server_bytes;
  if (c.order == CloseOrder::half_close) sv.to_send = 0;

  auto close_if = [&](Peer& p, bool cond) {
    if (cond && !p.closed && p.h) {
      (void)p.stack->close(*p.h, sim.now());
      p.closed = true;
    }
  };
  auto shut_if = [&](Peer& p, bool cond) {
    if (cond && !p.shut && !p.closed && p.h && p.all_sent()) {
      (void)p.stack->shutdown(*p.h, sim.now());
      p.shut = true;
    }
  };

  auto react = [&] {
    for (SocketEvent e; server.next_event(e);) {
      if (e.kind == SocketEventKind::accept_ready && !sv.h) {
        auto a = server.accept(*listener);
        if (a) sv.h = *a;
      }
    }
    for (SocketEvent e; client.next_event(e);) {
      if (e.kind == SocketEventKind::connected) cl.connected = true;
    }
    for (int round = 0; round < 2; ++round) {
      cl.pump_send(sim.now());
      sv.pump_send(sim.now());
      cl.pump_recv(sim.now());
      sv.pump_recv(sim.now());
      switch (c.order) {
        case CloseOrder::client_first:
          shut_if(cl, true);
          shut_if(sv, cl.shut && sv.eof);
          break;
        case CloseOrder::server_first:
          shut_if(sv, sv.h.has_value());
          shut_if(cl, sv.shut && cl.eof);
          break;
        case CloseOrder::simultaneous:
          shut_if(cl, cl.all_sent());
          shut_if(sv, sv.h.has_value() && sv.all_sent());
          break;
        case CloseOrder::half_close:
          // The client says everything, closes its side, and the server only then answers.
          shut_if(cl, cl.connected);
          if (sv.eof && sv.to_send == 0) {
            sv.to_send = half_close_bytes;
            sv.pump_send(sim.now());
          }
          shut_if(sv, sv.eof);
          break;
        case CloseOrder::client_abort:
          if (!aborted && cl.h && cl.connected && cl.received >= abort_after) {
            (void)client.abort(*cl.h, sim.now());
            aborted = true;
            cl.closed = true;
          }
          // The server says what it has to say and gives its handle back (a full close), so
          // a lost RST from the aborting client cannot leave it waiting for a FIN forever.
          close_if(sv, sv.h.has_value() && sv.all_sent());
          break;
      }
      close_if(cl, cl.eof && cl.shut);
      close_if(sv, sv.eof && sv.shut);
      // A side that learned of a reset gives its handle back.
      close_if(sv, sv.reset);
      close_if(cl, cl.reset);
    }
  };
  auto done = [&] {
    // After an abort the server may never have accepted: its half-open child is gone too.
    const bool server_done = sv.closed || (aborted && !sv.h);
    return cl.closed && server_done && client.connection_count() == 0 && server.connection_count() == 0;
  };
  const Instant end = sim.now() + c.limit;
  react();
  std::uint64_t steps = 0;
  while (!done()) {
    if (!sim.step(end)) break;
    react();
    if (++steps > 5'000'000) break;
  }
  out.virtual_seconds = to_seconds(sim.now());
  out.packets = wire.stats_towards(link::SimLink::A).sent + wire.stats_towards(link::SimLink::B).sent;
  out.bytes_delivered = cl.received + sv.received;
  (void)server.close(*listener, sim.now());

  std::string f;
  if (!cl.error.empty()) f = cl.error;
  else if (!sv.error.empty()) f = sv.error;
  else if (!done()) {
    f = fmt::format("did not finish by {:.1f} s: client sent {}/{} recv {}/{} eof={} closed={}; server sent {}/{} "
                    "recv {}/{} eof={} closed={}; connections {} / {}",
                    to_seconds(sim.now()), cl.sent, cl.to_send, cl.received, cl.expect, cl.eof, cl.closed, sv.sent,
                    sv.to_send, sv.received, sv.expect, sv.eof, sv.closed, client.connection_count(),
                    server.connection_count());
  } else if (c.order != CloseOrder::client_abort &&
             (cl.received != cl.expect || sv.received != sv.expect)) {
    f = fmt::format("bytes: client got {}/{}, server got {}/{}", cl.received, cl.expect, sv.received, sv.expect);
  } else if (c.order != CloseOrder::client_abort && (cl.reset || sv.reset)) {
    f = "unexpected reset";
  } else if (client.timer_count() != 0 || server.timer_count() != 0) {
    f = fmt::format("timers left: {} / {}", client.timer_count(), server.timer_count());
  } else if (client.buffered_bytes() != 0 || server.buffered_bytes() != 0) {
    f = "buffers left";
  } else if (server.listener_count() != 0) {
    f = "listener left";
  }
  out.ok = f.empty();
  out.failure = f;
  return out;
}

}  // namespace synfin::test

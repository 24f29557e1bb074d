// `synfin demo`: the life of a TCP connection between two synfin stacks over the simulated
// link, in virtual time, with a narrated timeline. Each scenario checks its own outcome and
// the exit status says whether it ended as it must.
#include "demo.hpp"

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "link/pcap.hpp"
#include "link/sim_link.hpp"
#include "link/simulation.hpp"
#include "narrator.hpp"
#include "synfin/stack.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace synfin::tools {

namespace {

using link::SimLink;

const Ipv4Addr kClientAddr = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kServerAddr = Ipv4Addr::of(10, 0, 0, 2);

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Everything a scenario needs: two stacks, a link, the driver, the narrator, the sinks.
class World {
 public:
  explicit World(const DemoOptions& o)
      : opts_(o),
        narrator_(o.quiet ? nullptr : stdout, o.lang == "zh" ? Lang::zh : Lang::en, o.color),
        client_(make_config("client", o.seed)),
        server_(make_config("server", o.seed + 1)),
        link_(impairments(o), impairments(o), o.seed),
        sim_(client_, server_, link_) {
    client_.add_interface({kClientAddr, 24, 1500});
    server_.add_interface({kServerAddr, 24, 1500});
    tee_.add(&narrator_);
    if (!o.trace.empty()) {
      trace_file_ = std::fopen(o.trace.c_str(), "w");
      if (trace_file_ != nullptr) {
        json_ = std::make_unique<JsonTraceSink>(trace_file_);
        tee_.add(json_.get());
      }
    }
    link_.set_observer([this](SimLink::Side to, std::string_view what, std::span<const std::uint8_t> p) {
      if (!opts_.quiet) narrator_.network(sim_.now(), describe_packet(to, what, p));
    });
    client_.set_trace(&tee_);
    server_.set_trace(&tee_);
    if (!o.pcap.empty()) {
      auto r = pcap_.open(o.pcap);
      if (!r) error_ = r.error();
      sim_.tap(&pcap_);
    }
  }
  ~World() {
    if (trace_file_ != nullptr) std::fclose(trace_file_);
  }

  std::string describe_packet(SimLink::Side to, std::string_view what, std::span<const std::uint8_t> p) {
    const char* from = to == SimLink::A ? "server" : "client";
    const char* dest = to == SimLink::A ? "client" : "server";
    std::string seg;
    auto ip = wire::parse_ipv4(p);
    if (ip && ip->header.protocol == wire::ip_proto::tcp) {
      auto t = wire::parse_tcp(ip->payload, nullptr);
      if (t) seg = fmt::format(" ({} len {})", wire::flags_to_string(t->flags), t->payload.size());
    }
    if (narrator_.lang() == Lang::zh) {
      std::string w = what == "lost" ? "丢失" : what == "duplicated" ? "重复" : std::string(what);
      return fmt::format("网络：{} 发往 {} 的数据包{}{}", from, dest, seg, w);
    }
    return fmt::format("the network: a packet from {} to {}{} is {}", from, dest, seg, what);
  }

  bool setup_ok() const { return error_.empty() && (opts_.trace.empty() || trace_file_ != nullptr); }
  std::string setup_error() const {
    return !error_.empty() ? error_ : fmt::format("cannot open {}", opts_.trace);
  }

  static StackConfig make_config(const char* name, std::uint64_t seed) {
    StackConfig c;
    c.name = name;
    c.seed = seed;
    for (std::size_t i = 0; i < c.secret.size(); ++i)
      c.secret[i] = static_cast<std::uint8_t>(seed * 131 + i * 7 + name[0]);
    return c;
  }
  static link::Impairments impairments(const DemoOptions& o) {
    link::Impairments i;
    i.delay = Duration{10000};  // 10 ms each way
    i.loss = o.loss;
    return i;
  }

  void say(std::string_view who, const std::string& text) {
    if (!opts_.quiet) narrator_.note(sim_.now(), who, text);
  }
  std::string tr(const char* en, const char* zh) const { return narrator_.tr(en, zh); }

  Stack& client() { return client_; }
  Stack& server() { return server_; }
  SimLink& link() { return link_; }
  link::Simulation& sim() { return sim_; }
  Instant now() const { return sim_.now(); }
  Narrator& narrator() { return narrator_; }
  const DemoOptions& opts() const { return opts_; }

  // Runs the simulation, calling `react` after each step, until `done` or the time limit.
  bool run(const std::function<void()>& react, const std::function<bool()>& done, Duration limit) {
    const Instant end = sim_.now() + limit;
    react();
    while (!done()) {
      if (!sim_.step(end)) {
        react();
        return done();
      }
      react();
    }
    return true;
  }

  bool all_quiet() {
    return client_.connection_count() == 0 && server_.connection_count() == 0 &&
           client_.timer_count() == 0 && server_.timer_count() == 0;
  }

  void finish() {
    if (!opts_.quiet) narrator_.summary(sim_.now());
    if (pcap_.is_open() && !opts_.quiet) {
      std::printf("  %s\n", fmt::format(fmt::runtime(tr("pcap: {} packets written to {}", "pcap：{} 个数据包已写入 {}")),
                                        pcap_.packets(), opts_.pcap)
                                .c_str());
    }
    pcap_.close();
  }

 private:
  DemoOptions opts_;
  Narrator narrator_;
  Stack client_;
  Stack server_;
  SimLink link_;
  link::Simulation sim_;
  TeeTraceSink tee_;
  std::unique_ptr<JsonTraceSink> json_;
  std::FILE* trace_file_ = nullptr;
  link::PcapWriter pcap_;
  std::string error_;
};

bool visited(Narrator& n, const char* side, TcpState s) {
  for (TcpState x : n.side(side).states)
    if (x == s) return true;
  return false;
}

int verdict(World& w, bool ok, const std::string& what) {
  w.finish();
  if (ok) {
    std::printf("\n%s %s\n", w.tr("OK:", "成功：").c_str(), what.c_str());
    return 0;
  }
  std::printf("\n%s %s\n", w.tr("FAILED:", "失败：").c_str(), what.c_str());
  return 1;
}

std::string response_body() {
  std::string b;
  for (int i = 0; b.size() < 6000; ++i) b += fmt::format("line {:04d} of the synfin demo page\n", i);
  b.resize(6000);
  return b;
}

// --- http: the whole life of one connection ---------------------------------------------

int scenario_http(World& w) {
  Stack& c = w.client();
  Stack& s = w.server();
  const std::string request =
      "GET / HTTP/1.1\r\nHost: 10.0.0.2\r\nConnection: keep-alive\r\nUser-Agent: synfin-demo\r\n\r\n";
  const std::string body = response_body();
  const std::string head = fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nKeep-Alive: timeout=5, max=100\r\n\r\n",
      body.size());
  const std::string part1 = head + body.substr(0, 2000);
  const std::string part2 = body.substr(2000);

  auto l = s.listen(Ipv4Addr{}, 80, 16);
  if (!l) return verdict(w, false, "listen failed");
  w.say("server", w.tr("listens on port 80", "在 80 端口监听"));
  w.say("client", w.tr("connects to 10.0.0.2:80", "连接 10.0.0.2:80"));
  auto ch = c.connect(kServerAddr, 80, w.now());
  if (!ch) return verdict(w, false, "connect failed");

  std::optional<Handle> sh;
  std::string got_request, got_response;
  bool sent_request = false, sent_part1 = false, sent_part2 = false, client_shut = false;
  bool client_eof = false, server_eof = false, client_closed = false, server_closed = false;
  std::size_t part2_off = 0, req_off = 0, part1_off = 0;
  std::uint8_t buf[8192];

  auto pump_send = [&](Stack& st, Handle h, const std::string& data, std::size_t& off) {
    while (off < data.size()) {
      auto r = st.send(h, bytes_of(std::string_view(data).substr(off)), w.now());
      if (!r || *r == 0) break;
      off += *r;
    }
    return off == data.size();
  };

  auto react = [&] {
    for (SocketEvent e; s.next_event(e);) {
      if (e.kind == SocketEventKind::accept_ready) {
        auto a = s.accept(*l);
        if (a) {
          sh = *a;
          w.say("server", w.tr("accepts the connection", "接受连接"));
        }
      }
    }
    for (SocketEvent e; c.next_event(e);) {
      if (e.kind == SocketEventKind::connected && !sent_request) {
        w.say("client", w.tr("sends an HTTP/1.1 GET with keep-alive", "发送带 keep-alive 的 HTTP/1.1 GET 请求"));
        sent_request = true;
      }
    }
    if (sent_request) pump_send(c, *ch, request, req_off);
    if (sh) {
      while (true) {
        auto r = s.recv(*sh, buf, w.now());
        if (!r) break;
        if (*r == 0) {
          if (!server_eof) w.say("server", w.tr("sees the client's FIN: no more requests will come, but the response is not finished",
                                                "收到客户端的 FIN：不会再有请求，但响应还没发完"));
          server_eof = true;
          break;
        }
        got_request.append(reinterpret_cast<char*>(buf), *r);
      }
      if (!sent_part1 && got_request.find("\r\n\r\n") != std::string::npos) {
        w.say("server", w.tr("answers: the headers and the first 2000 bytes of the body",
                             "应答：发送响应头和正文的前 2000 字节"));
        sent_part1 = true;
      }
      if (sent_part1) pump_send(s, *sh, part1, part1_off);
      if (server_eof && part1_off == part1.size() && !sent_part2) {
        w.say("server", w.tr("sends the rest of the response after the client's FIN (half-close)",
                             "在客户端 FIN 之后发送剩余的响应（半关闭）"));
        sent_part2 = true;
      }
      if (sent_part2 && !server_closed && pump_send(s, *sh, part2, part2_off)) {
        w.say("server", w.tr("has sent everything and closes", "全部发送完毕，关闭连接"));
        (void)s.close(*sh, w.now());
        server_closed = true;
      }
    }
    if (!client_eof) {
      while (true) {
        auto r = c.recv(*ch, buf, w.now());
        if (!r) break;
        if (*r == 0) {
          client_eof = true;
          w.say("client", fmt::format(fmt::runtime(w.tr("has the whole response ({} bytes) and the server's FIN; closes",
                                                        "已收到完整响应（{} 字节）和服务器的 FIN，关闭连接")),
                                      got_response.size()));
          (void)c.close(*ch, w.now());
          client_closed = true;
          break;
        }
        got_response.append(reinterpret_cast<char*>(buf), *r);
      }
      if (!client_shut && got_response.find("\r\n\r\n") != std::string::npos) {
        w.say("client", w.tr("has the response headers and half-closes: no more requests (shutdown)",
                             "收到响应头后半关闭：不再发送请求（shutdown）"));
        (void)c.shutdown(*ch, w.now());
        client_shut = true;
      }
    }
  };
  const bool finished = w.run(react, [&] { return client_closed && server_closed && w.all_quiet(); }, 3600s);
  const bool bytes_ok = got_request == request && got_response == head + body;
  const bool states_ok = visited(w.narrator(), "client", TcpState::time_wait) &&
                         visited(w.narrator(), "server", TcpState::close_wait) &&
                         visited(w.narrator(), "server", TcpState::last_ack);
  return verdict(w, finished && bytes_ok && states_ok,
                 fmt::format(fmt::runtime(w.tr("request {} bytes and response {} bytes delivered intact; the client "
                                               "waited out TIME-WAIT; nothing left open",
                                               "请求 {} 字节、响应 {} 字节完整送达；客户端等待 TIME-WAIT 结束；没有遗留连接")),
                             got_request.size(), got_response.size()));
}

// --- simultaneous open ------------------------------------------------------------------

int scenario_simultaneous_open(World& w) {
  Stack& c = w.client();
  Stack& s = w.server();
  w.say("both", w.tr("each side connects to the other at the same moment: ports 5000 and 6000",
                     "双方同时向对方发起连接：端口 5000 和 6000"));
  auto a = c.connect(kServerAddr, 6000, w.now(), {kClientAddr, 5000});
  auto b = s.connect(kClientAddr, 5000, w.now(), {kServerAddr, 6000});
  if (!a || !b) return verdict(w, false, "connect failed");
  bool a_up = false, b_up = false, a_sent = false, b_sent = false, a_done = false, b_done = false;
  std::string a_got, b_got;
  std::uint8_t buf[256];
  auto react = [&] {
    for (SocketEvent e; c.next_event(e);)
      if (e.kind == SocketEventKind::connected) a_up = true;
    for (SocketEvent e; s.next_event(e);)
      if (e.kind == SocketEventKind::connected) b_up = true;
    if (a_up && !a_sent) {
      (void)c.send(*a, bytes_of("hello from 5000"), w.now());
      (void)c.shutdown(*a, w.now());
      a_sent = true;
    }
    if (b_up && !b_sent) {
      (void)s.send(*b, bytes_of("hello from 6000"), w.now());
      (void)s.shutdown(*b, w.now());
      b_sent = true;
    }
    for (auto r = c.recv(*a, buf, w.now()); !a_done && r; r = c.recv(*a, buf, w.now())) {
      if (*r == 0) {
        a_done = true;
        (void)c.close(*a, w.now());
      } else {
        a_got.append(reinterpret_cast<char*>(buf), *r);
      }
    }
    for (auto r = s.recv(*b, buf, w.now()); !b_done && r; r = s.recv(*b, buf, w.now())) {
      if (*r == 0) {
        b_done = true;
        (void)s.close(*b, w.now());
      } else {
        b_got.append(reinterpret_cast<char*>(buf), *r);
      }
    }
  };
  const bool finished = w.run(react, [&] { return a_done && b_done && w.all_quiet(); }, 3600s);
  const bool ok = finished && a_got == "hello from 6000" && b_got == "hello from 5000" &&
                  visited(w.narrator(), "client", TcpState::syn_received) &&
                  visited(w.narrator(), "server", TcpState::syn_received);
  return verdict(w, ok, w.tr("both sides went SYN_SENT -> SYN_RECEIVED -> ESTABLISHED and exchanged data",
                             "双方都经历了 SYN_SENT -> SYN_RECEIVED -> ESTABLISHED，并交换了数据"));
}

// --- simultaneous close -----------------------------------------------------------------

int scenario_simultaneous_close(World& w) {
  Stack& c = w.client();
  Stack& s = w.server();
  auto l = s.listen(Ipv4Addr{}, 80, 4);
  auto ch = c.connect(kServerAddr, 80, w.now());
  if (!l || !ch) return verdict(w, false, "setup failed");
  std::optional<Handle> sh;
  bool closing = false;
  auto react = [&] {
    for (SocketEvent e; s.next_event(e);)
      if (e.kind == SocketEventKind::accept_ready) sh = s.accept(*l).value_or(Handle{});
    for (SocketEvent e; c.next_event(e);) {
    }
    if (sh && !closing) {
      w.say("both", w.tr("both applications close at the same moment: the FINs cross",
                         "双方应用同时关闭：两个 FIN 交叉而过"));
      (void)c.close(*ch, w.now());
      (void)s.close(*sh, w.now());
      closing = true;
    }
  };
  const bool finished = w.run(react, [&] { return closing && w.all_quiet(); }, 3600s);
  const bool ok = finished && visited(w.narrator(), "client", TcpState::closing) &&
                  visited(w.narrator(), "server", TcpState::closing) &&
                  visited(w.narrator(), "client", TcpState::time_wait) &&
                  visited(w.narrator(), "server", TcpState::time_wait);
  return verdict(w, ok, w.tr("both sides went FIN_WAIT_1 -> CLOSING -> TIME_WAIT -> CLOSED",
                             "双方都经历了 FIN_WAIT_1 -> CLOSING -> TIME_WAIT -> CLOSED"));
}

// --- SYN timeout ------------------------------------------------------------------------

int scenario_syn_timeout(World& w) {
  Stack& c = w.client();
  w.link().impairments_towards(SimLink::B).loss = 1.0;
  w.say("network", w.tr("everything the client sends is lost from now on", "从现在起，客户端发出的所有数据包都会丢失"));
  auto ch = c.connect(kServerAddr, 80, w.now());
  if (!ch) return verdict(w, false, "connect failed");
  const Instant start = w.now();
  std::optional<SocketEvent> end;
  auto react = [&] {
    for (SocketEvent e; c.next_event(e);)
      if (e.kind == SocketEventKind::closed) end = e;
  };
  w.run(react, [&] { return end.has_value(); }, 3600s);
  const Duration took = w.now() - start;
  if (end) {
    w.say("client", fmt::format(fmt::runtime(w.tr("connect fails after {:.0f} s: {}", "{:.0f} 秒后连接失败：{}")),
                                to_seconds(took), to_string(end->error)));
  }
  (void)c.close(*ch, w.now());
  const bool ok = end && end->error == Error::timed_out && took >= 180s;
  return verdict(w, ok, w.tr("the SYN was retransmitted with exponential backoff and the connect failed with "
                             "'timed out' no earlier than 3 minutes (RFC 9293 MUST-23)",
                             "SYN 以指数退避方式重传，连接在不早于 3 分钟后以“超时”失败（RFC 9293 MUST-23）"));
}

// --- reset ------------------------------------------------------------------------------

int scenario_reset(World& w) {
  Stack& c = w.client();
  Stack& s = w.server();
  auto l = s.listen(Ipv4Addr{}, 80, 4);
  w.say("client", w.tr("connects to port 81, where nobody listens", "连接 81 端口，那里没有人监听"));
  auto refused = c.connect(kServerAddr, 81, w.now());
  if (!l || !refused) return verdict(w, false, "setup failed");
  std::optional<Error> refused_err, reset_err;
  std::optional<Handle> ch, sh;
  bool aborted = false;
  auto react = [&] {
    for (SocketEvent e; c.next_event(e);) {
      if (e.socket == *refused && e.kind == SocketEventKind::reset) {
        refused_err = e.error;
        w.say("client", fmt::format(fmt::runtime(w.tr("learns: {}", "得知：{}")), to_string(e.error)));
        (void)c.close(*refused, w.now());
        w.say("client", w.tr("connects to port 80", "连接 80 端口"));
        ch = c.connect(kServerAddr, 80, w.now()).value_or(Handle{});
      }
      if (ch && e.socket == *ch && e.kind == SocketEventKind::reset) {
        reset_err = e.error;
        w.say("client", fmt::format(fmt::runtime(w.tr("learns: {}", "得知：{}")), to_string(e.error)));
        (void)c.close(*ch, w.now());
      }
    }
    for (SocketEvent e; s.next_event(e);)
      if (e.kind == SocketEventKind::accept_ready) sh = s.accept(*l).value_or(Handle{});
    if (sh && !aborted) {
      w.say("server", w.tr("aborts the connection", "中止连接"));
      (void)s.abort(*sh, w.now());
      aborted = true;
    }
  };
  const bool finished = w.run(react, [&] { return reset_err.has_value() && w.all_quiet(); }, 600s);
  const bool ok = finished && refused_err == Error::refused && reset_err == Error::reset;
  return verdict(w, ok, w.tr("a SYN to a closed port was refused with RST, and an abort reset an established connection",
                             "发往关闭端口的 SYN 被 RST 拒绝，已建立的连接被中止复位"));
}

// --- keep-alive -------------------------------------------------------------------------

int scenario_keepalive(World& w) {
  Stack& c = w.client();
  Stack& s = w.server();
  auto l = s.listen(Ipv4Addr{}, 80, 4);
  auto ch = c.connect(kServerAddr, 80, w.now());
  if (!l || !ch) return verdict(w, false, "setup failed");
  std::optional<Handle> sh;
  bool configured = false, cut = false;
  std::optional<SocketEvent> end;
  Instant cut_at{};
  auto react = [&] {
    for (SocketEvent e; s.next_event(e);)
      if (e.kind == SocketEventKind::accept_ready) sh = s.accept(*l).value_or(Handle{});
    for (SocketEvent e; c.next_event(e);) {
      if (e.kind == SocketEventKind::connected && !configured) {
        SocketOptions o;
        o.keepalive = true;
        o.keepalive_idle = 60s;
        o.keepalive_interval = 10s;
        o.keepalive_probes = 3;
        (void)c.set_options(*ch, o, w.now());
        configured = true;
        w.say("client", w.tr("turns keep-alive on: probe after 60 s idle, every 10 s, give up after 3 "
                             "(the defaults are 2 hours, 75 s and 9)",
                             "开启保活：空闲 60 秒后探测，每 10 秒一次，3 次无应答放弃（默认值为 2 小时、75 秒和 9 次）"));
      }
      if (e.kind == SocketEventKind::closed) end = e;
    }
    if (configured && !cut && w.now() >= at(100s)) {
      w.link().impairments_towards(SimLink::A).loss = 1.0;
      w.link().impairments_towards(SimLink::B).loss = 1.0;
      cut = true;
      cut_at = w.now();
      w.say("network", w.tr("the server's host vanishes: nothing gets through any more",
                            "服务器主机消失：再也没有数据包能够通过"));
    }
  };
  // Step in small increments so the cut happens at 100 s.
  const bool finished = w.run(
      [&] {
        react();
        if (configured && !cut && w.sim().link().in_flight() == 0 && w.now() < at(100s) &&
            w.client().next_deadline() > at(100s)) {
          w.sim().run_to(at(100s));
          react();
        }
      },
      [&] { return end.has_value(); }, 3600s);
  if (end) {
    w.say("client", fmt::format(fmt::runtime(w.tr("gives up: {}", "放弃：{}")), to_string(end->error)));
  }
  (void)c.close(*ch, w.now());
  const bool ok = finished && end && end->error == Error::timed_out && cut && w.now() - cut_at >= 30s;
  return verdict(w, ok, w.tr("an answered probe kept the connection; three unanswered probes ended it with 'timed out'",
                             "有应答的探测保持了连接；三次无应答的探测以“超时”结束了连接"));
}

// --- old duplicate SYN (RFC 9293 figure 9) ----------------------------------------------

std::vector<std::uint8_t> old_syn_packet(std::uint16_t src_port, std::uint32_t seq) {
  wire::TcpHeaderFields f;
  f.src_port = src_port;
  f.dst_port = 80;
  f.seq = wire::Seq{seq};
  f.flags = wire::tcp_flag::SYN;
  f.window = 65535;
  wire::TcpOptions o;
  std::vector<std::uint8_t> p(20 + wire::kTcpMaxHeader);
  const std::size_t hl = wire::write_tcp_header(std::span(p).subspan(20), f, o, wire::kDefaultLayout);
  p.resize(20 + hl);
  wire::finish_tcp_checksum_v4(std::span(p).subspan(20), kClientAddr.value, kServerAddr.value);
  wire::Ipv4Header h;
  h.src = kClientAddr;
  h.dst = kServerAddr;
  h.total_length = static_cast<std::uint16_t>(p.size());
  wire::write_ipv4_header(p, h);
  return p;
}

int scenario_old_duplicate_syn(World& w) {
  Stack& c = w.client();
  Stack& s = w.server();
  auto l = s.listen(Ipv4Addr{}, 80, 4);
  // The client's SYN takes a slow path (100 ms); everything after it is fast (5 ms).
  w.link().impairments_towards(SimLink::B).delay = Duration{100000};
  w.link().impairments_towards(SimLink::A).delay = Duration{5000};
  auto ch = c.connect(kServerAddr, 80, w.now());
  if (!l || !ch) return verdict(w, false, "setup failed");
  w.sim().flush();
  w.link().impairments_towards(SimLink::B).delay = Duration{5000};
  w.say("network", w.tr("the client's SYN is still on its way (a slow path, 100 ms)",
                        "客户端的 SYN 仍在路上（一条慢路径，100 毫秒）"));
  const auto info = c.info(*ch);
  w.say("network", w.tr("meanwhile an old duplicate SYN from an earlier connection on the same ports reaches the server",
                        "与此同时，同一端口上一条旧连接的重复 SYN 先到达了服务器"));
  const auto old = old_syn_packet(info->local_port, 0x12345678u);
  w.sim().inject(SimLink::B, old);
  bool up = false, closed = false;
  std::optional<Handle> sh;
  auto react = [&] {
    for (SocketEvent e; c.next_event(e);)
      if (e.kind == SocketEventKind::connected) up = true;
    for (SocketEvent e; s.next_event(e);)
      if (e.kind == SocketEventKind::accept_ready) sh = s.accept(*l).value_or(Handle{});
    if (up && sh && !closed) {
      w.say("both", w.tr("the real connection is up; both close", "真正的连接已建立；双方关闭"));
      (void)c.close(*ch, w.now());
      (void)s.close(*sh, w.now());
      closed = true;
    }
  };
  const bool finished = w.run(react, [&] { return closed && w.all_quiet(); }, 3600s);
  const bool ok = finished && s.counters().connections_accepted == 1 &&
                  visited(w.narrator(), "server", TcpState::listen) && c.counters().resets_out >= 1;
  return verdict(w, ok, w.tr("the client reset the SYN-ACK of the old SYN, the server went back to LISTEN, "
                             "and the real handshake then completed (RFC 9293 figure 9)",
                             "客户端用 RST 回应了旧 SYN 的 SYN-ACK，服务器回到 LISTEN，随后真正的握手完成（RFC 9293 图 9）"));
}

}  // namespace

int run_demo(const DemoOptions& opts) {
  if (opts.loss < 0 || opts.loss >= 1) {
    std::fprintf(stderr, "synfin demo: --loss must be at least 0 and below 1\n");
    return 2;
  }
  if (opts.lang != "en" && opts.lang != "zh") {
    std::fprintf(stderr, "synfin demo: --lang must be en or zh\n");
    return 2;
  }
  World w(opts);
  if (!w.setup_ok()) {
    std::fprintf(stderr, "synfin demo: %s\n", w.setup_error().c_str());
    return 2;
  }
  if (!opts.quiet) {
    std::printf("%s\n", fmt::format(fmt::runtime(w.tr("synfin demo: scenario '{}', client 10.0.0.1, server 10.0.0.2, "
                                                      "10 ms each way, loss {:.0f}%, seed {}",
                                                      "synfin 演示：场景“{}”，客户端 10.0.0.1，服务器 10.0.0.2，"
                                                      "单程 10 毫秒，丢包率 {:.0f}%，种子 {}")),
                                    opts.scenario, opts.loss * 100, opts.seed)
                            .c_str());
    std::printf("%s\n\n", w.tr("Sequence numbers are relative to each side's initial sequence number.",
                               "序号均相对于各方的初始序号。").c_str());
    w.narrator().header();
  }
  const std::string& s = opts.scenario;
  if (s == "http") return scenario_http(w);
  if (s == "simultaneous-open") return scenario_simultaneous_open(w);
  if (s == "simultaneous-close") return scenario_simultaneous_close(w);
  if (s == "syn-timeout") return scenario_syn_timeout(w);
  if (s == "reset") return scenario_reset(w);
  if (s == "keepalive") return scenario_keepalive(w);
  if (s == "old-duplicate-syn") return scenario_old_duplicate_syn(w);
  std::fprintf(stderr, "synfin demo: unknown scenario '%s'\n", s.c_str());
  return 2;
}

}  // namespace synfin::tools

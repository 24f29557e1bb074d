// `synfin nc`: one raw TCP connection on a TUN device, netcat-like, with an exact half-close:
// it sends its input, shuts down its sending side when the input ends, keeps reading until
// the peer's FIN, and exits only once its own FIN is acknowledged (CLOSED or TIME-WAIT), so
// that neither side is left in FIN-WAIT-2, CLOSE-WAIT or LAST-ACK. See net_commands.hpp.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "net_commands.hpp"

namespace synfin::tools {

namespace {

using namespace std::chrono_literals;

class NcApp final : public runtime::Application {
 public:
  NcApp(Stack& stack, runtime::EventLoop& loop, const NcOptions& o, Ipv4Addr remote, std::uint16_t rport,
        int in_fd, bool in_pollable, int out_fd)
      : stack_(stack), loop_(loop), o_(o), remote_(remote), rport_(rport), in_fd_(in_fd),
        in_pollable_(in_pollable), out_fd_(out_fd), buf_(65536) {}

  void start(Instant now) override {
    if (o_.listen_port != 0) {
      auto l = stack_.listen(Ipv4Addr{}, static_cast<std::uint16_t>(o_.listen_port), 1);
      if (!l) return finish(kExitSetup, fmt::format("cannot listen on port {}: {}", o_.listen_port, to_string(l.error())));
      listener_ = *l;
      listening_ = true;
    } else {
      auto h = stack_.connect(remote_, rport_, now);
      if (!h) return finish(kExitSetup, fmt::format("cannot connect: {}", to_string(h.error())));
      h_ = *h;
      have_ = true;
      deadline_ = now + Duration{static_cast<std::int64_t>(o_.connect_timeout * 1e6)};
    }
    if (in_pollable_) {
      loop_.watch(in_fd_, [this](Instant) { in_ready_ = true; });
    }
  }

  void on_event(const SocketEvent& e, Instant now) override {
    if (listening_ && e.socket == listener_) {
      if (e.kind != SocketEventKind::accept_ready) return;
      auto a = stack_.accept(listener_);
      if (!a) return;
      h_ = *a;
      have_ = true;
      connected_ = true;
      (void)stack_.close(listener_, now);  // one connection only
      listening_ = false;
      progress(now);
      return;
    }
    if (!have_ || e.socket != h_) return;
    switch (e.kind) {
      case SocketEventKind::connected:
        connected_ = true;
        progress(now);
        break;
      case SocketEventKind::reset:
        finish(connected_ ? kExitReset : kExitRefused,
               connected_ ? "connection reset by the peer" : "connection refused");
        break;
      case SocketEventKind::closed:
        if (e.error == Error::timed_out) finish(kExitTimeout, "timed out: the peer stopped acknowledging");
        else if (e.error != Error::none) finish(kExitReset, fmt::format("connection failed: {}", to_string(e.error)));
        else closed_ = true;
        break;
      default:
        break;
    }
  }

  void on_pass(Instant now) override {
    if (exit_code_ >= 0 || !have_) {
      check_deadline(now);
      return;
    }
    if (connected_) {
      receive(now);
      if (exit_code_ < 0) transmit(now);
    }
    if (exit_code_ < 0 && shut_ && peer_eof_) {
      auto i = stack_.info(h_);
      final_state_ = i ? i->state : TcpState::closed;
      if (closed_ || !i || i->state == TcpState::closed || i->state == TcpState::time_wait) {
        finish(0, {});
      }
    }
    check_deadline(now);
  }

  Instant next_deadline() const override { return exit_code_ >= 0 ? kNever : deadline_; }

  void on_stop_request(Instant now) override {
    interrupted_ = true;
    if (!have_ || !connected_) return finish(kExitInterrupted, "interrupted");
    // Finish gracefully: stop sending, and leave once the peer has closed too.
    if (!shut_) {
      (void)stack_.shutdown(h_, now);
      shut_ = true;
    }
  }

  bool done() const override { return exit_code_ >= 0; }

  void set_max_send(std::uint64_t n) { max_send_ = n; }
  int exit_code() const { return interrupted_ && exit_code_ == 0 ? kExitInterrupted : exit_code_; }
  const std::string& message() const { return message_; }

  void report(std::FILE* f) const {
    const Counters& c = stack_.counters();
    const std::size_t tw = c.connections_by_state[static_cast<std::size_t>(TcpState::time_wait)];
    const std::size_t open = stack_.connection_count() - tw;
    fmt::print(f,
               "synfin nc: sent {} bytes ({} after the peer's FIN), received {} bytes ({} after our FIN); "
               "final state {}; connections open: {} (TIME-WAIT: {})\n",
               sent_, sent_after_peer_fin_, received_, received_after_our_fin_, to_string(final_state_), open, tw);
  }

 private:
  void progress(Instant now) {
    if (o_.timeout > 0) deadline_ = now + Duration{static_cast<std::int64_t>(o_.timeout * 1e6)};
    else deadline_ = kNever;
  }

  void check_deadline(Instant now) {
    if (exit_code_ >= 0 || now < deadline_) return;
    finish(kExitTimeout, connected_ ? fmt::format("timed out: no progress for {:.1f} s (--timeout)", o_.timeout)
                                    : fmt::format("timed out connecting ({:.1f} s)", o_.connect_timeout));
  }

  void finish(int code, std::string message) {
    if (exit_code_ >= 0) return;
    exit_code_ = code;
    message_ = std::move(message);
    if (have_) {
      auto i = stack_.info(h_);
      if (i) {
        final_state_ = i->state;
        if (code != 0 && o_.net.stats) {
          fmt::print(stderr,
                     "socket at the end: {}, rcv_wnd {}, recv_queued {}, bytes_received {}, send_queued {}, "
                     "unacked {}, snd_wnd {}, retransmissions {}\n",
                     to_string(i->state), i->rcv_wnd, i->recv_queued, i->bytes_received, i->send_queued, i->unacked,
                     i->snd_wnd, i->retransmissions);
        }
      }
      const Instant now = loop_.now();
      if (code == 0) (void)stack_.close(h_, now);
      else (void)stack_.abort(h_, now);
      have_ = false;
    }
  }

  void receive(Instant now) {
    while (!peer_eof_) {
      auto r = stack_.recv(h_, buf_, now);
      if (!r) {
        if (r.error() == Error::would_block) return;
        return finish(r.error() == Error::timed_out ? kExitTimeout : kExitReset,
                      fmt::format("receive failed: {}", to_string(r.error())));
      }
      progress(now);
      if (*r == 0) {
        peer_eof_ = true;
        return;
      }
      received_ += *r;
      if (shut_) received_after_our_fin_ += *r;
      std::size_t off = 0;
      while (off < *r) {
        const ssize_t w = ::write(out_fd_, buf_.data() + off, *r - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) {  // a non-blocking output: wait for it (rare; stdout of a pipe)
            ::usleep(1000);
            continue;
          }
          return finish(kExitSetup, fmt::format("writing the received bytes failed: {}", std::strerror(errno)));
        }
        off += static_cast<std::size_t>(w);
      }
    }
  }

  void transmit(Instant now) {
    if (shut_ || (o_.wait_eof && !peer_eof_)) return;
    while (true) {
      if (pending_off_ == pending_.size() && !in_eof_ && read_total_ >= max_send_) {
        in_eof_ = true;
        if (in_pollable_) loop_.unwatch(in_fd_);
      }
      if (pending_off_ == pending_.size() && !in_eof_) {
        if (in_pollable_ && !in_ready_) return;
        pending_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(65536, max_send_ - read_total_)));
        const ssize_t n = ::read(in_fd_, pending_.data(), pending_.size());
        if (n < 0) {
          pending_.clear();
          pending_off_ = 0;
          if (errno == EAGAIN) {
            in_ready_ = false;
            return;
          }
          if (errno == EINTR) continue;
          return finish(kExitSetup, fmt::format("reading what to send failed: {}", std::strerror(errno)));
        }
        pending_.resize(static_cast<std::size_t>(n));
        pending_off_ = 0;
        read_total_ += static_cast<std::uint64_t>(n);
        if (n == 0) {
          in_eof_ = true;
          if (in_pollable_) loop_.unwatch(in_fd_);
        }
      }
      if (pending_off_ < pending_.size()) {
        auto r = stack_.send(h_, {pending_.data() + pending_off_, pending_.size() - pending_off_}, now);
        if (!r) {
          if (r.error() == Error::would_block) return;
          return finish(kExitReset, fmt::format("send failed: {}", to_string(r.error())));
        }
        pending_off_ += *r;
        sent_ += *r;
        if (peer_eof_) sent_after_peer_fin_ += *r;
        progress(now);
        if (pending_off_ < pending_.size()) return;  // full: wait for `writable`
        continue;
      }
      if (in_eof_) {
        (void)stack_.shutdown(h_, now);
        shut_ = true;
        return;
      }
    }
  }

  Stack& stack_;
  runtime::EventLoop& loop_;
  const NcOptions& o_;
  Ipv4Addr remote_;
  std::uint16_t rport_;
  int in_fd_;
  bool in_pollable_;
  int out_fd_;
  std::vector<std::uint8_t> buf_;
  std::vector<std::uint8_t> pending_;
  std::size_t pending_off_ = 0;
  Handle listener_;
  Handle h_;
  bool listening_ = false;
  bool have_ = false;
  bool connected_ = false;
  bool closed_ = false;
  bool peer_eof_ = false;
  bool shut_ = false;
  bool in_eof_ = false;
  bool in_ready_ = false;
  bool interrupted_ = false;
  Instant deadline_ = kNever;
  int exit_code_ = -1;
  std::string message_;
  TcpState final_state_ = TcpState::closed;
  std::uint64_t sent_ = 0;
  std::uint64_t read_total_ = 0;
  std::uint64_t max_send_ = ~std::uint64_t{0};
  std::uint64_t received_ = 0;
  std::uint64_t sent_after_peer_fin_ = 0;
  std::uint64_t received_after_our_fin_ = 0;
};

Result<std::pair<Ipv4Addr, std::uint16_t>, std::string> parse_endpoint(std::string_view s) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return fail(fmt::format("'{}' is not A.B.C.D:PORT", s));
  auto a = Ipv4Addr::parse(s.substr(0, colon));
  if (!a) return fail(fmt::format("'{}' is not an IPv4 address", s.substr(0, colon)));
  const std::string_view p = s.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || port == 0 || port > 65535) {
    return fail(fmt::format("bad port '{}'", p));
  }
  return std::pair{*a, static_cast<std::uint16_t>(port)};
}

}  // namespace

int run_nc(const NcOptions& o) {
  Ipv4Addr remote;
  std::uint16_t rport = 0;
  if (!o.connect.empty()) {
    auto ep = parse_endpoint(o.connect);
    if (!ep) {
      fmt::print(stderr, "synfin nc: --connect: {}\n", ep.error());
      return kExitSetup;
    }
    remote = ep->first;
    rport = ep->second;
  }
  std::optional<Result<std::uint64_t, std::string>> max_send;
  if (!o.max_send.empty()) {
    max_send = parse_size(o.max_send);
    if (!*max_send) {
      fmt::print(stderr, "synfin nc: --max-send: {}\n", max_send->error());
      return kExitSetup;
    }
  }
  int in_fd = STDIN_FILENO;
  if (o.send != "-") {
    in_fd = ::open(o.send.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
      fmt::print(stderr, "synfin nc: cannot read {}: {}\n", o.send, std::strerror(errno));
      return kExitSetup;
    }
  }
  int out_fd = STDOUT_FILENO;
  if (o.recv != "-") {
    out_fd = ::open(o.recv.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      fmt::print(stderr, "synfin nc: cannot write {}: {}\n", o.recv, std::strerror(errno));
      return kExitSetup;
    }
  }
  auto ctx = NetContext::open(o.net);
  if (!ctx) {
    fmt::print(stderr, "synfin nc: {}\n", ctx.error());
    return kExitSetup;
  }
  NetContext& net = **ctx;
  // Pipes, terminals and sockets are waited for with epoll; files and devices are always ready.
  struct stat st {};
  bool pollable = ::fstat(in_fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode));
  if (pollable) {
    const int fl = ::fcntl(in_fd, F_GETFL);
    if (fl < 0 || ::fcntl(in_fd, F_SETFL, fl | O_NONBLOCK) < 0) pollable = false;
  }
  if (pollable) {
    // Some character devices (/dev/zero) cannot be watched: then read them as files.
    const int probe = ::dup(in_fd);
    if (probe < 0 || !net.loop().watch(probe, [](Instant) {})) {
      const int fl = ::fcntl(in_fd, F_GETFL);
      ::fcntl(in_fd, F_SETFL, fl & ~O_NONBLOCK);
      pollable = false;
    } else {
      net.loop().unwatch(probe);
    }
    if (probe >= 0) ::close(probe);
  }
  NcApp app(net.stack(), net.loop(), o, remote, rport, in_fd, pollable, out_fd);
  if (!o.max_send.empty()) app.set_max_send(max_send->value());
  if (!o.quiet) {
    fmt::print(stderr, "synfin nc: {} ({})\n",
               o.listen_port != 0 ? fmt::format("listening on {}:{}", net.addr().to_string(), o.listen_port)
                                  : fmt::format("connecting to {}:{}", remote.to_string(), rport),
               net.describe());
  }
  net.loop().run(app);
  if (!app.message().empty()) fmt::print(stderr, "synfin nc: {}\n", app.message());
  if (!o.quiet) app.report(stderr);
  if (o.net.stats) net.print_stats(stderr);
  if (in_fd != STDIN_FILENO) ::close(in_fd);
  if (out_fd != STDOUT_FILENO && ::close(out_fd) != 0) {
    fmt::print(stderr, "synfin nc: writing {} failed: {}\n", o.recv, std::strerror(errno));
    return kExitSetup;
  }
  return app.exit_code() < 0 ? kExitInterrupted : app.exit_code();
}

}  // namespace synfin::tools

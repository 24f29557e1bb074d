// The script interpreter; see interpreter.hpp.
#include "pkt/interpreter.hpp"

#include <fmt/format.h>

#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "pkt/packet.hpp"
#include "pkt/parser.hpp"
#include "wire/tcp.hpp"

namespace synfin::pkt {

namespace {

namespace F = wire::tcp_flag;

// errno names and values as the scripts' host (FreeBSD) has them; only names are compared.
std::string errno_for(Error e) {
  switch (e) {
    case Error::none: return "";
    case Error::would_block: return "EAGAIN";
    case Error::refused: return "ECONNREFUSED";
    case Error::reset: return "ECONNRESET";
    case Error::timed_out: return "ETIMEDOUT";
    case Error::address_in_use: return "EADDRINUSE";
    case Error::invalid_state: return "EINVAL";
    case Error::closing: return "EPIPE";
    case Error::not_connected: return "ENOTCONN";
    case Error::invalid_argument: return "EINVAL";
    case Error::unreachable: return "EHOSTUNREACH";
    case Error::aborted: return "ECONNABORTED";
    case Error::no_resources: return "ENOBUFS";
  }
  return "EIO";
}

bool same_errno(const std::string& a, const std::string& b) {
  auto norm = [](const std::string& s) { return s == "EWOULDBLOCK" ? std::string("EAGAIN") : s; };
  return norm(a) == norm(b);
}

// The outcome of a system call: a return value, or -1 and an errno name.
struct CallResult {
  std::int64_t value = 0;
  std::string err;  // non-empty: value is -1
  static CallResult ok(std::int64_t v) { return CallResult{v, ""}; }
  static CallResult error(std::string e) { return CallResult{-1, std::move(e)}; }
  std::string to_string() const { return err.empty() ? std::to_string(value) : fmt::format("-1 {}", err); }
};

// SocketInfo fields a later synfin may add; read them when they exist.
template <typename T>
std::optional<std::uint32_t> reported_recv_buffer(const T& info) {
  if constexpr (requires { info.recv_buffer; }) return static_cast<std::uint32_t>(info.recv_buffer);
  else return std::nullopt;
}
template <typename T>
std::optional<std::uint32_t> reported_send_buffer(const T& info) {
  if constexpr (requires { info.send_buffer; }) return static_cast<std::uint32_t>(info.send_buffer);
  else return std::nullopt;
}

class Sink : public PacketSink {
 public:
  explicit Sink(std::vector<std::vector<std::uint8_t>>& out) : out_(out) {}
  void send_packet(std::span<const std::uint8_t> p, Instant) override { out_.emplace_back(p.begin(), p.end()); }

 private:
  std::vector<std::vector<std::uint8_t>>& out_;
};

struct Fd {
  bool nonblocking = false;
  bool bound = false;
  bool listening = false;
  std::optional<Handle> handle;
  Error so_error = Error::none;
  bool reset_seen = false;
  bool connected = false;
  bool peer_closed = false;
  bool closed_event = false;
  std::uint32_t recv_buffer = 0;
  std::uint32_t send_buffer = 0;
  bool no_delay = false;
  // Options set before the socket had a connection, applied when it gets one.
  SocketOptions pending;
  bool has_pending = false;
  std::optional<Duration> keepinit;  // TCP_KEEPINIT as set
};

// A flag expression as packetdrill writes them: a number, a known name, or numbers and names
// joined by '|'. nullopt when some part is neither; `unknown` (if given) then points at it.
template <class Lookup>
std::optional<std::int64_t> bit_expr(const Expr& x, const Lookup& lookup, const Expr** unknown = nullptr) {
  if (x.kind == Expr::Kind::integer) return x.number;
  if (x.kind == Expr::Kind::identifier) {
    if (auto b = lookup(x.text)) return b;
  } else if (x.kind == Expr::Kind::bit_or) {
    std::int64_t v = 0;
    for (const Expr& i : x.items) {
      auto b = bit_expr(i, lookup, unknown);
      if (!b) return std::nullopt;
      v |= *b;
    }
    return v;
  }
  if (unknown != nullptr) *unknown = &x;
  return std::nullopt;
}

// poll()'s bits as the scripts' host (FreeBSD) defines them; POLLWRNORM is POLLOUT there.
namespace pollbit {
constexpr std::int64_t in = 0x1, pri = 0x2, out = 0x4, err = 0x8, hup = 0x10, nval = 0x20, rdnorm = 0x40,
                       rdband = 0x80, wrnorm = 0x4, wrband = 0x100, rdhup = 0x4000;
}  // namespace pollbit

std::optional<std::int64_t> poll_bit(const std::string& name) {
  static const std::pair<const char*, std::int64_t> kBits[] = {
      {"POLLIN", pollbit::in},         {"POLLPRI", pollbit::pri},       {"POLLOUT", pollbit::out},
      {"POLLERR", pollbit::err},       {"POLLHUP", pollbit::hup},       {"POLLNVAL", pollbit::nval},
      {"POLLRDNORM", pollbit::rdnorm}, {"POLLRDBAND", pollbit::rdband}, {"POLLWRNORM", pollbit::wrnorm},
      {"POLLWRBAND", pollbit::wrband}, {"POLLRDHUP", pollbit::rdhup}};
  for (const auto& [n, v] : kBits) {
    if (name == n) return v;
  }
  return std::nullopt;
}

std::string poll_bits_to_string(std::int64_t v) {
  static const std::pair<const char*, std::int64_t> kNames[] = {
      {"POLLIN", pollbit::in},     {"POLLPRI", pollbit::pri},       {"POLLOUT", pollbit::out},
      {"POLLERR", pollbit::err},   {"POLLHUP", pollbit::hup},       {"POLLNVAL", pollbit::nval},
      {"POLLRDNORM", pollbit::rdnorm}, {"POLLRDBAND", pollbit::rdband}, {"POLLWRBAND", pollbit::wrband},
      {"POLLRDHUP", pollbit::rdhup}};
  if (v == 0) return "0";
  std::string s;
  for (const auto& [n, b] : kNames) {
    if ((v & b) != 0) {
      s += (s.empty() ? "" : "|") + std::string(n);
      v &= ~b;
    }
  }
  if (v != 0) s += fmt::format("{}{:#x}", s.empty() ? "" : "|", v);
  return s;
}

// A poll() call as the script writes it: `poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 0)`.
struct PollCall {
  struct Entry {
    int fd = -1;
    std::int64_t events = 0;
    std::optional<std::int64_t> revents;  // nullopt: not checked
  };
  std::vector<Entry> entries;
  std::int64_t timeout_ms = 0;  // negative: no timeout
};

struct Pending {
  const Event* event = nullptr;
  int fd = -1;
  Instant started{};
  Instant expected_end{};
  // poll(): what it waits for, and when its timeout ends it (nullopt: never).
  std::optional<PollCall> poll;
  std::optional<Instant> poll_deadline;
  bool check_time = true;  // false for a poll() the script does not mark as blocking (no `...`)
};

std::uint64_t handle_key(Handle h) { return (std::uint64_t{h.generation} << 32) | h.index; }

class Interpreter {
 public:
  Interpreter(const Script& s, const Profile& p, const RunOptions& o)
      : script_(s), profile_(p), opts_(o), cfg_(p.stack) {
    tolerance_ = Duration{p.tolerance_us};
    mtu_ = p.mtu;
    local_port_ = p.bind_port;
    remote_port_ = p.remote_port;
  }

  RunResult run() {
    if (!header()) return std::move(result_);
    for (const Event& e : script_.events) {
      event_ = &e;
      run_event(e);
      if (done_) return std::move(result_);
    }
    finish();
    return std::move(result_);
  }

 private:
  // --- verdicts ------------------------------------------------------------------------
  void fail(int line, std::string reason) {
    if (done_) return;
    done_ = true;
    result_.verdict = Verdict::fail;
    result_.line = line;
    result_.reason = std::move(reason);
  }
  void skip(int line, std::string reason) {
    if (done_) return;
    done_ = true;
    result_.verdict = Verdict::skip;
    result_.line = line;
    result_.reason = std::move(reason);
  }
  void log(std::string s) {
    if (opts_.verbose) result_.log.push_back(fmt::format("{:9.6f} {}", seconds(now_), s));
  }
  static double seconds(Instant t) { return static_cast<double>(to_us(t)) / 1e6; }
  int line() const { return event_ != nullptr ? event_->line : 0; }

  bool header() {
    for (const auto& [name, value] : script_.options) {
      if (name == "ip_version") {
        if (value != "ipv4") {
          skip(0, fmt::format("--ip_version={}: synfin has no IPv6 yet", value));
          return false;
        }
      } else if (name == "tolerance_usecs") {
        tolerance_ = Duration{std::stoll(value)};
      } else if (name == "mtu") {
        mtu_ = static_cast<std::uint16_t>(std::stoul(value));
      } else if (name == "non_fatal") {
        if (value != "syscall") {
          skip(0, fmt::format("--non_fatal={} is not supported", value));
          return false;
        }
        non_fatal_syscalls_ = true;
      } else {
        skip(0, fmt::format("--{}{}{} is not supported", name, value.empty() ? "" : "=", value));
        return false;
      }
    }
    return true;
  }

  // --- the stack and time --------------------------------------------------------------
  Stack& stack() {
    if (!stack_) {
      stack_ = std::make_unique<Stack>(cfg_);
      stack_->add_interface(Interface{profile_.local_addr, profile_.prefix_len, mtu_});
    }
    return *stack_;
  }

  // Takes what the stack sent and the events it raised.
  void collect() {
    if (!stack_) return;
    std::vector<std::vector<std::uint8_t>> out;
    Sink sink(out);
    stack_->transmit(sink, now_);
    for (auto& b : out) {
      SentPacket p = parse_sent(b, now_);
      if (!p.error.empty()) {
        fail(line(), p.error);
        return;
      }
      if (!p.is_tcp) {
        log(fmt::format("synfin sent a non-TCP packet (protocol {}), ignored", p.ip.protocol));
        continue;
      }
      log(fmt::format("synfin sent {}", tcp_to_script(p.tcp.flags, p.tcp.seq, p.tcp.payload_length, p.tcp.ack,
                                                      p.tcp.window, p.tcp.options, p.tcp.urgent,
                                                      static_cast<std::uint8_t>(p.tcp.tos & 3))));
      sent_.push_back(std::move(p));
    }
    SocketEvent ev;
    while (stack_->next_event(ev)) on_event(ev);
  }

  void on_event(const SocketEvent& ev) {
    auto it = fd_of_handle_.find(handle_key(ev.socket));
    if (it == fd_of_handle_.end()) return;
    auto f = fds_.find(it->second);
    if (f == fds_.end()) return;
    Fd& fd = f->second;
    switch (ev.kind) {
      case SocketEventKind::connected: fd.connected = true; break;
      case SocketEventKind::peer_closed: fd.peer_closed = true; break;
      case SocketEventKind::reset:
        fd.reset_seen = true;
        fd.so_error = ev.error;
        break;
      case SocketEventKind::closed:
        fd.closed_event = true;
        if (ev.error != Error::none && !fd.reset_seen) fd.so_error = ev.error;
        break;
      default: break;
    }
  }

  // The next moment something can happen by itself: a stack timer, or a poll() timeout.
  Instant next_wake() const {
    Instant d = stack_ ? stack_->next_deadline() : kNever;
    if (pending_ && pending_->poll_deadline && *pending_->poll_deadline < d) d = *pending_->poll_deadline;
    return d;
  }

  // Runs timers until `t`, collecting what they send.
  void advance_to(Instant t) {
    int guard = 0;
    while (stack_ && !done_) {
      const Instant d = next_wake();
      if (d == kNever || d > t) break;
      if (d > now_) now_ = d;
      stack_->poll(now_);
      collect();
      complete_pending();
      if (++guard > 1'000'000) {
        fail(line(), "the stack's timers do not advance");
        return;
      }
      if (stack_->next_deadline() <= now_) now_ += Duration{1};
    }
    if (t > now_) now_ = t;
  }

  // Runs timers until something is sent or `t` passes.
  void advance_until_sent(Instant t) {
    int guard = 0;
    while (stack_ && !done_ && sent_.empty()) {
      const Instant d = next_wake();
      if (d == kNever || d > t) break;
      if (d > now_) now_ = d;
      stack_->poll(now_);
      collect();
      complete_pending();
      if (++guard > 1'000'000) {
        fail(line(), "the stack's timers do not advance");
        return;
      }
      if (stack_->next_deadline() <= now_) now_ += Duration{1};
    }
  }

  // When an event is due: [start, end] in virtual time.
  std::pair<Instant, Instant> when(const TimeSpec& t) const {
    Instant start;
    switch (t.kind) {
      case TimeKind::absolute: start = at(Duration{t.start_us}); break;
      case TimeKind::relative: start = now_ + Duration{t.start_us}; break;
      case TimeKind::any: start = now_; break;
    }
    Instant end = start;
    if (t.range_end_us) {
      end = t.kind == TimeKind::relative ? now_ + Duration{*t.range_end_us} : at(Duration{*t.range_end_us});
    }
    return {start, end};
  }

  // Brings time to an event that the runner performs itself (inbound packet, call, command).
  bool reach(const TimeSpec& t) {
    auto [start, end] = when(t);
    if (t.kind == TimeKind::any) return true;
    if (start < now_) {
      // An absolute time already passed while waiting for an outbound packet.
      if (now_ - end > tolerance_) {
        fail(line(), fmt::format("timing error: event expected at {:.6f} s but the script only got there at "
                                 "{:.6f} s",
                                 seconds(start), seconds(now_)));
        return false;
      }
      return true;
    }
    advance_to(start);
    return !done_;
  }

  // --- sequence numbers ----------------------------------------------------------------
  std::uint32_t local_offset() const {
    return isn_known_ ? live_local_isn_ - script_local_isn_ : 0;
  }

  // --- events --------------------------------------------------------------------------
  void run_event(const Event& e) {
    log(fmt::format("line {}: {}", e.line, e.source));
    std::visit(
        [&](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, TcpPacketSpec>) {
            if (body.inbound) inbound_tcp(e, body);
            else outbound_tcp(e, body);
          } else if constexpr (std::is_same_v<T, IcmpPacketSpec>) {
            if (body.inbound) inbound_icmp(e, body);
            else skip(e.line, "outbound ICMP lines are not supported");
          } else if constexpr (std::is_same_v<T, SyscallSpec>) {
            syscall_event(e, body);
          } else if constexpr (std::is_same_v<T, ShellCommand>) {
            shell(e, body);
          } else {
            code(e, body);
          }
        },
        e.body);
  }

  void inbound_tcp(const Event& e, const TcpPacketSpec& p) {
    if (!reach(e.time)) return;
    if (!p.window) {
      fail(e.line, "window must be specified for inbound packets");
      return;
    }
    if (p.any_seq) {
      fail(e.line, "an inbound segment needs a sequence number");
      return;
    }
    if (p.seq_end - p.seq != p.length) {
      fail(e.line, fmt::format("inconsistent sequence range {}:{}({})", p.seq, p.seq_end, p.length));
      return;
    }
    auto opts = option_bytes(p.options);
    if (!opts) {
      skip(e.line, "TCP MD5 signature options (RFC 2385) are not supported");
      return;
    }
    if (opts->size() % 4 != 0) {
      fail(e.line, "TCP options are not padded to a multiple of 4 bytes");
      return;
    }
    if (opts->size() > wire::kTcpMaxOptions) {
      fail(e.line, "TCP options too long");
      return;
    }
    TcpFields f;
    f.src = profile_.remote_addr;
    f.dst = profile_.local_addr;
    f.src_port = remote_port_;
    f.dst_port = local_port_;
    f.flags = flags_from_script(p.flags);
    f.seq = p.seq;
    const bool has_ack = (f.flags & F::ACK) != 0;
    f.ack = p.ack ? (has_ack ? *p.ack + local_offset() : *p.ack) : 0;
    f.window = static_cast<std::uint16_t>(*p.window);
    f.urgent = p.urgent.value_or(0);
    f.ttl = p.ip.ttl.value_or(64);
    f.tos = static_cast<std::uint8_t>((p.ip.tos.value_or(0) & ~3) | (p.ip.ecn.value_or(0) & 3));
    f.options = std::move(*opts);
    for (std::size_t at : find_sack_edges(f.options)) store_be32(f.options, at, load_be32(f.options, at) + local_offset());
    if (auto ts = find_timestamp(f.options); ts && has_ack) {
      const std::uint32_t script_ecr = load_be32(f.options, ts->val_offset + 4);
      auto m = ts_val_map_.find(script_ecr);
      if (m != ts_val_map_.end()) {
        store_be32(f.options, ts->val_offset + 4, m->second);
      } else if (script_ecr != 0 && !opts_.ignore_options) {
        fail(e.line, fmt::format("no mapping for TS ecr {}: synfin sent no TS val the script called {}",
                                 script_ecr, script_ecr));
        return;
      }
    }
    f.payload_length = p.length;
    stack().receive(build_tcp(f), now_);
    collect();
    complete_pending();
  }

  void inbound_icmp(const Event& e, const IcmpPacketSpec& p) {
    if (!reach(e.time)) return;
    auto k = icmp_kind(p.type, p.code);
    if (!k) {
      fail(e.line, fmt::format("unknown ICMP type/code '{} {}'", p.type, p.code));
      return;
    }
    std::uint32_t rest = 0;
    if (p.mtu) rest = *p.mtu & 0xffff;
    const auto pkt = build_icmp_error(profile_.remote_addr, profile_.local_addr, k->type, k->code, rest,
                                      local_port_, remote_port_, p.seq + local_offset(), p.length);
    stack().receive(pkt, now_);
    collect();
    complete_pending();
  }

  void outbound_tcp(const Event& e, const TcpPacketSpec& p) {
    auto [start, end] = when(e.time);
    const bool any_time = e.time.kind == TimeKind::any;
    const Instant deadline = any_time ? now_ + std::chrono::hours(1) : end + tolerance_;
    if (sent_.empty()) advance_until_sent(deadline);
    if (done_) return;
    if (sent_.empty()) {
      fail(e.line, fmt::format("expected {} at {:.6f} s; synfin sent nothing by {:.6f} s", strip_time(e),
                               seconds(start), seconds(deadline)));
      return;
    }
    SentPacket got = std::move(sent_.front());
    sent_.pop_front();
    if (got.at > now_) now_ = got.at;
    const TcpFields& a = got.tcp;
    const std::uint8_t want_flags = flags_from_script(p.flags);
    // Learn synfin's ISN from its first SYN or SYN-ACK.
    if (!isn_known_ && !p.any_seq && (want_flags & F::SYN) && (a.flags & F::SYN)) {
      isn_known_ = true;
      live_local_isn_ = a.seq;
      script_local_isn_ = p.seq;
    }
    if (a.src_port != local_port_ || a.dst_port != remote_port_) {
      // Not for the connection under test (as packetdrill's sniffer, which filters on it).
      log(fmt::format("ignoring a segment for ports {} -> {}", a.src_port, a.dst_port));
    }
    const std::uint32_t seq = a.seq - local_offset();
    std::vector<std::string> diffs;
    if (a.flags != want_flags) diffs.push_back("flags");
    if (!p.any_seq && seq != p.seq) diffs.push_back("seq");
    if (a.payload_length != p.length) diffs.push_back("length");
    if ((want_flags & F::ACK) && p.ack && a.ack != *p.ack) diffs.push_back("ack");
    if (p.window && a.window != *p.window) diffs.push_back("window");
    if (a.urgent != p.urgent.value_or(0)) diffs.push_back("urgent pointer");
    const std::uint8_t ecn = a.tos & 3;
    if (p.ip.ecn_any_ect ? (ecn != 1 && ecn != 2) : ecn != p.ip.ecn.value_or(0)) diffs.push_back("ECN bits");
    for (std::uint8_t b : got.payload) {
      if (b != 0) {
        diffs.push_back("payload");
        break;
      }
    }
    if (!p.options_wildcard && !opts_.ignore_options) {
      auto want = option_bytes(p.options);
      if (!want) {
        skip(e.line, "TCP MD5 signature options (RFC 2385) are not supported");
        return;
      }
      std::vector<std::uint8_t> have = a.options;
      auto wts = find_timestamp(*want);
      auto hts = find_timestamp(have);
      if (wts && hts) {
        const std::uint32_t script_val = load_be32(*want, wts->val_offset);
        const std::uint32_t live_val = load_be32(have, hts->val_offset);
        ts_val_map_[script_val] = live_val;
        store_be32(have, hts->val_offset, script_val);  // TS val is not checked (no tick rate)
      }
      if (have != *want) diffs.push_back("options");
    }
    if (!any_time && (got.at < start - tolerance_ || got.at > end + tolerance_)) diffs.push_back("time");
    if (!diffs.empty()) {
      std::string what;
      for (const auto& d : diffs) what += (what.empty() ? "" : ", ") + d;
      fail(e.line, fmt::format("expected: {} at {:.6f} s; actual: {} at {:.6f} s ({} differ)", strip_time(e),
                               seconds(start), describe(got), seconds(got.at), what));
    }
  }

  std::string describe(const SentPacket& got) const {
    const TcpFields& a = got.tcp;
    return "> " + tcp_to_script(a.flags, a.seq - local_offset(), a.payload_length, a.ack, a.window, a.options,
                                a.urgent, static_cast<std::uint8_t>(a.tos & 3));
  }

  static std::string strip_time(const Event& e) {
    std::string s = e.source;
    const auto p = s.find_first_of("<>");
    if (p != std::string::npos && (e.body.index() == 0 || e.body.index() == 1)) s = s.substr(p);
    return s;
  }

  // --- system calls --------------------------------------------------------------------
  Fd* fd_arg(const SyscallSpec& s, std::size_t i = 0) {
    if (s.args.size() <= i || s.args[i].kind != Expr::Kind::integer) return nullptr;
    auto it = fds_.find(static_cast<int>(s.args[i].number));
    return it == fds_.end() ? nullptr : &it->second;
  }

  void syscall_event(const Event& e, const SyscallSpec& s) {
    if (!reach(e.time)) return;
    if (pending_ && pending_->fd >= 0 && !s.args.empty() && s.args[0].kind == Expr::Kind::integer &&
        s.args[0].number == pending_->fd) {
      skip(e.line, "a system call on a socket with a blocking call in progress is not supported");
      return;
    }
    auto r = execute(e, s);
    if (done_ || !r) return;
    check_call(e, s, *r);
  }

  void check_call(const Event& e, const SyscallSpec& s, const CallResult& r) {
    std::string want;
    bool match = true;
    if (s.result.kind == Expr::Kind::integer) {
      want = std::to_string(s.result.number);
      match = r.value == s.result.number;
    } else if (s.result.kind != Expr::Kind::ellipsis) {
      skip(e.line, fmt::format("return value '{}' is not supported", s.result.to_string()));
      return;
    }
    if (!s.errno_name.empty()) {
      want += " " + s.errno_name;
      match = match && same_errno(s.errno_name, r.err);
    } else if (!r.err.empty() && s.result.kind == Expr::Kind::integer) {
      match = false;
    }
    if (!match) {
      mismatch(e.line, fmt::format("{} returned {}, expected {}", s.name, r.to_string(), want));
    }
  }

  void mismatch(int l, std::string what) {
    if (non_fatal_syscalls_ || opts_.non_fatal_syscalls) {
      // The script's own --non_fatal=syscall makes it a warning, as in packetdrill; the
      // diagnostic option only defers the failure so that later mismatches show too.
      if (!non_fatal_syscalls_ && !deferred_) deferred_ = std::make_pair(l, what);
      result_.warnings.push_back(fmt::format("line {}: {}", l, what));
      return;
    }
    fail(l, std::move(what));
  }

  // Runs the call; nullopt when it blocks (now pending) or the script ended.
  std::optional<CallResult> execute(const Event& e, const SyscallSpec& s) {
    const std::string& n = s.name;
    if (n == "socket") return sys_socket(e, s);
    if (n == "fcntl") return sys_fcntl(e, s);
    if (n == "bind") return sys_bind(e, s);
    if (n == "listen") return sys_listen(e, s);
    if (n == "accept") return sys_accept(e, s);
    if (n == "connect") return sys_connect(e, s);
    if (n == "read" || n == "recv" || n == "recvfrom") return sys_recv(e, s);
    if (n == "write" || n == "send" || n == "sendto") return sys_send(e, s);
    if (n == "shutdown") return sys_shutdown(e, s);
    if (n == "close") return sys_close(e, s);
    if (n == "getsockopt") return sys_getsockopt(e, s);
    if (n == "setsockopt") return sys_setsockopt(e, s);
    if (n == "poll") return sys_poll(e, s);
    skip(e.line, fmt::format("system call {}() is not supported", n));
    return std::nullopt;
  }

  std::optional<CallResult> sys_socket(const Event& e, const SyscallSpec& s) {
    if (s.args.size() != 3 || s.args[1].kind != Expr::Kind::identifier || s.args[1].text != "SOCK_STREAM") {
      skip(e.line, "only SOCK_STREAM sockets are supported");
      return std::nullopt;
    }
    if (s.args[2].kind == Expr::Kind::identifier && s.args[2].text != "IPPROTO_TCP") {
      skip(e.line, fmt::format("socket protocol {} is not supported", s.args[2].text));
      return std::nullopt;
    }
    if (s.result.kind != Expr::Kind::integer || s.result.number < 0) {
      skip(e.line, "socket() must name the descriptor it returns");
      return std::nullopt;
    }
    const int fd = static_cast<int>(s.result.number);
    if (fds_.count(fd) != 0) {
      fail(e.line, fmt::format("socket() = {}: descriptor {} is in use", fd, fd));
      return std::nullopt;
    }
    Fd f;
    f.recv_buffer = cfg_.tcp.recv_buffer;
    f.send_buffer = cfg_.tcp.send_buffer;
    f.no_delay = cfg_.tcp.no_delay;
    fds_[fd] = f;
    last_fd_ = fd;
    return CallResult::ok(fd);
  }

  std::optional<CallResult> bad_fd() { return CallResult::error("EBADF"); }

  std::optional<std::int64_t> flag_value(const Expr& x) {
    return bit_expr(x, [&](const std::string& name) -> std::optional<std::int64_t> {
      if (name == "O_RDWR") return profile_.o_rdwr;
      if (name == "O_NONBLOCK") return profile_.o_nonblock;
      if (name == "O_RDONLY") return 0;
      return std::nullopt;
    });
  }

  std::optional<CallResult> sys_fcntl(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (s.args.size() >= 2 && s.args[1].kind == Expr::Kind::identifier) {
      if (s.args[1].text == "F_GETFL")
        return CallResult::ok(profile_.o_rdwr | (f->nonblocking ? profile_.o_nonblock : 0));
      if (s.args[1].text == "F_SETFL" && s.args.size() == 3) {
        auto v = flag_value(s.args[2]);
        if (!v) {
          skip(e.line, fmt::format("fcntl flags {} are not supported", s.args[2].to_string()));
          return std::nullopt;
        }
        f->nonblocking = (*v & profile_.o_nonblock) != 0;
        return CallResult::ok(0);
      }
    }
    skip(e.line, "this fcntl() command is not supported");
    return std::nullopt;
  }

  std::optional<CallResult> sys_bind(const Event&, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (f->bound) return CallResult::error("EINVAL");
    f->bound = true;
    last_fd_ = static_cast<int>(s.args[0].number);
    return CallResult::ok(0);
  }

  std::optional<CallResult> sys_listen(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (s.args.size() != 2 || s.args[1].kind != Expr::Kind::integer) {
      skip(e.line, "listen() needs a numeric backlog");
      return std::nullopt;
    }
    if (!f->bound) {
      skip(e.line, "listen() on an unbound socket (an ephemeral port) is not supported");
      return std::nullopt;
    }
    if (f->listening) return CallResult::ok(0);
    // A backlog of 0 still accepts a connection on FreeBSD and Linux; synfin wants >= 1.
    const auto backlog = static_cast<std::uint32_t>(std::max<std::int64_t>(1, s.args[1].number));
    auto h = stack().listen(Ipv4Addr{}, profile_.bind_port, backlog);
    collect();
    if (!h) return CallResult::error(errno_for(h.error()));
    f->listening = true;
    f->handle = *h;
    if (f->has_pending) {
      // Options set before listen() apply to the connections the listener accepts.
      (void)stack().set_options(*h, f->pending, now_);
    }
    fd_of_handle_[handle_key(*h)] = static_cast<int>(s.args[0].number);
    last_fd_ = static_cast<int>(s.args[0].number);
    local_port_ = profile_.bind_port;
    return CallResult::ok(0);
  }

  void adopt_connection(int fd, Handle h) {
    Fd& f = fds_[fd];
    f.handle = h;
    fd_of_handle_[handle_key(h)] = fd;
    if (f.has_pending) {
      (void)stack().set_options(h, f.pending, now_);
      collect();
    }
    if (auto i = stack().info(h)) {
      local_port_ = i->local_port;
      remote_port_ = i->remote_port;
    }
    last_fd_ = fd;
  }

  std::optional<CallResult> try_accept(int listener_fd, std::int64_t new_fd) {
    Fd& l = fds_[listener_fd];
    auto h = stack().accept(*l.handle);
    collect();
    if (!h) return CallResult::error(errno_for(h.error()));
    if (fds_.count(static_cast<int>(new_fd)) != 0) return CallResult::error("EMFILE");
    Fd f;
    f.recv_buffer = l.recv_buffer;
    f.send_buffer = l.send_buffer;
    f.no_delay = l.no_delay;
    f.pending = l.pending;
    f.has_pending = l.has_pending;
    f.connected = true;
    fds_[static_cast<int>(new_fd)] = f;
    adopt_connection(static_cast<int>(new_fd), *h);
    // Events raised before the handle was known (peer FIN) show in its state.
    if (auto i = stack().info(*h)) {
      if (i->state == TcpState::close_wait || i->state == TcpState::last_ack || i->state == TcpState::closing ||
          i->state == TcpState::time_wait)
        fds_[static_cast<int>(new_fd)].peer_closed = true;
    }
    return CallResult::ok(new_fd);
  }

  std::optional<CallResult> sys_accept(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (!f->listening) return CallResult::error("EINVAL");
    if (s.result.kind != Expr::Kind::integer) {
      skip(e.line, "accept() must name the descriptor it returns");
      return std::nullopt;
    }
    auto r = try_accept(static_cast<int>(s.args[0].number), s.result.number);
    if (r && r->err == "EAGAIN" && !f->nonblocking) return block(e, static_cast<int>(s.args[0].number));
    return r;
  }

  std::optional<CallResult> sys_connect(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    const int fdn = static_cast<int>(s.args[0].number);
    if (f->listening) return CallResult::error("EINVAL");
    if (f->handle) {
      auto i = stack().info(*f->handle);
      if (i && i->state == TcpState::syn_sent) return CallResult::error("EALREADY");
      return CallResult::error("EISCONN");
    }
    ConnectOptions o;
    o.local_addr = profile_.local_addr;
    if (f->bound) o.local_port = profile_.bind_port;
    // Options set before connect() must be in place before the SYN: open, set, start.
    auto h = stack().open(profile_.remote_addr, profile_.connect_port, o);
    if (!h) {
      collect();
      return CallResult::error(errno_for(h.error()));
    }
    remote_port_ = profile_.connect_port;
    adopt_connection(fdn, *h);
    const Error started = stack().start(*h, now_);
    collect();
    if (started != Error::none) return CallResult::error(errno_for(started));
    if (f->nonblocking) return CallResult::error("EINPROGRESS");
    return block(e, fdn);
  }

  // Bytes that recv() would return now without waiting.
  std::uint32_t readable(const Fd& f) {
    if (!f.handle) return 0;
    auto i = stack().info(*f.handle);
    return i ? i->recv_queued : 0;
  }

  std::optional<CallResult> sys_recv(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    const int fdn = static_cast<int>(s.args[0].number);
    std::int64_t len = 0;
    bool peek = false;
    if (s.args.size() >= 3 && s.args[2].kind == Expr::Kind::integer) len = s.args[2].number;
    else {
      skip(e.line, fmt::format("{}() needs a numeric length", s.name));
      return std::nullopt;
    }
    if (s.name != "read") {
      if (s.args.size() < 4) {
        skip(e.line, fmt::format("{}() needs flags", s.name));
        return std::nullopt;
      }
      const Expr& fl = s.args[3];
      if (fl.kind == Expr::Kind::identifier && fl.text == "MSG_PEEK") peek = true;
      else if (!(fl.kind == Expr::Kind::integer && fl.number == 0)) {
        skip(e.line, fmt::format("{}() flags {} are not supported", s.name, fl.to_string()));
        return std::nullopt;
      }
    }
    auto r = do_recv(fdn, len, peek);
    if (r.err == "EAGAIN" && !f->nonblocking) return block(e, fdn);
    return r;
  }

  CallResult do_recv(int fdn, std::int64_t len, bool peek) {
    Fd& f = fds_[fdn];
    if (!f.handle || f.listening) return CallResult::error("ENOTCONN");
    const std::uint32_t avail = readable(f);
    if (avail > 0 && len > 0) {
      if (peek) return CallResult::ok(std::min<std::int64_t>(len, avail));
      std::vector<std::uint8_t> buf(static_cast<std::size_t>(len));
      auto r = stack().recv(*f.handle, buf, now_);
      collect();
      if (r) return CallResult::ok(*r);
      return CallResult::error(errno_for(r.error()));
    }
    if (f.so_error != Error::none) {
      const std::string err = errno_for(f.so_error);
      if (!peek) f.so_error = Error::none;
      return CallResult::error(err);
    }
    if (peek) {
      if (f.peer_closed || f.reset_seen) return CallResult::ok(0);
      auto i = stack().info(*f.handle);
      if (i && i->state == TcpState::syn_sent) return CallResult::error("ENOTCONN");
      return CallResult::error("EAGAIN");
    }
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::max<std::int64_t>(len, 1)));
    auto r = stack().recv(*f.handle, std::span<std::uint8_t>(buf.data(), static_cast<std::size_t>(len)), now_);
    collect();
    if (r) return CallResult::ok(*r);
    if (r.error() == Error::reset || r.error() == Error::refused || r.error() == Error::timed_out) {
      // The error was reported once already (SO_ERROR or an earlier call): end of stream.
      return CallResult::ok(0);
    }
    if (r.error() == Error::invalid_state) {
      auto i = stack().info(*f.handle);
      if (i && i->state == TcpState::syn_sent) return CallResult::error("ENOTCONN");
    }
    return CallResult::error(errno_for(r.error()));
  }

  std::optional<CallResult> sys_send(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (s.args.size() < 3 || s.args[2].kind != Expr::Kind::integer) {
      skip(e.line, fmt::format("{}() needs a numeric length", s.name));
      return std::nullopt;
    }
    if (s.name != "write") {
      if (s.args.size() < 4 || !(s.args[3].kind == Expr::Kind::integer && s.args[3].number == 0)) {
        skip(e.line, fmt::format("{}() flags {} are not supported", s.name,
                                 s.args.size() >= 4 ? s.args[3].to_string() : std::string("(none)")));
        return std::nullopt;
      }
    }
    if (!f->handle || f->listening) return CallResult::error(f->listening ? "ENOTCONN" : "ENOTCONN");
    if (f->so_error != Error::none) {
      const std::string err = errno_for(f->so_error);
      f->so_error = Error::none;
      return CallResult::error(err);
    }
    std::vector<std::uint8_t> zeros(static_cast<std::size_t>(s.args[2].number), 0);
    auto r = stack().send(*f->handle, zeros, now_);
    collect();
    if (!r) {
      if (r.error() == Error::would_block && !f->nonblocking) {
        skip(e.line, "a blocking send() that has to wait is not supported");
        return std::nullopt;
      }
      if (r.error() == Error::invalid_state) {
        auto i = stack().info(*f->handle);
        if (i && (i->state == TcpState::syn_sent || i->state == TcpState::syn_received))
          return CallResult::error("ENOTCONN");
        return CallResult::error("EPIPE");
      }
      return CallResult::error(errno_for(r.error()));
    }
    return CallResult::ok(*r);
  }

  std::optional<CallResult> sys_shutdown(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (s.args.size() != 2 || s.args[1].kind != Expr::Kind::identifier) {
      skip(e.line, "shutdown() needs SHUT_RD, SHUT_WR or SHUT_RDWR");
      return std::nullopt;
    }
    if (s.args[1].text != "SHUT_WR") {
      skip(e.line, fmt::format("shutdown({}) is not supported: synfin shuts down only the sending side",
                               s.args[1].text));
      return std::nullopt;
    }
    if (!f->handle || f->listening) return CallResult::error("ENOTCONN");
    const Error err = stack().shutdown(*f->handle, now_);
    collect();
    if (err == Error::none || err == Error::closing) return CallResult::ok(0);
    return CallResult::error(err == Error::invalid_state ? "ENOTCONN" : errno_for(err));
  }

  std::optional<CallResult> sys_close(const Event&, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    const int fdn = static_cast<int>(s.args[0].number);
    if (f->handle) {
      (void)stack().close(*f->handle, now_);
      fd_of_handle_.erase(handle_key(*f->handle));
      collect();
    }
    fds_.erase(fdn);
    if (last_fd_ == fdn) last_fd_ = -1;
    return CallResult::ok(0);
  }

  std::optional<std::int64_t> expected_option_value(const SyscallSpec& s) {
    if (s.args.size() < 4) return std::nullopt;
    const Expr& v = s.args[3];
    if (v.kind == Expr::Kind::list && v.items.size() == 1 && v.items[0].kind == Expr::Kind::integer)
      return v.items[0].number;
    return std::nullopt;
  }

  std::optional<CallResult> sys_getsockopt(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (s.args.size() != 5 || s.args[1].kind != Expr::Kind::identifier || s.args[2].kind != Expr::Kind::identifier) {
      skip(e.line, "getsockopt() form is not supported");
      return std::nullopt;
    }
    const std::string& opt = s.args[2].text;
    const Expr& want = s.args[3];
    std::optional<SocketInfo> info;
    if (f->handle && !f->listening) {
      auto i = stack().info(*f->handle);
      if (i) info = *i;
    }
    if (opt == "TCP_INFO") {
      // getsockopt(fd, IPPROTO_TCP, TCP_INFO, {tcpi_state=TCPI_ESTABLISHED, ...}, ...)
      if (want.kind != Expr::Kind::structure && want.kind != Expr::Kind::ellipsis) {
        skip(e.line, fmt::format("TCP_INFO value {} is not supported", want.to_string()));
        return std::nullopt;
      }
      std::optional<SocketInfo> any;  // a listener has TCP_INFO too (tcpi_state is LISTEN)
      if (f->handle) {
        if (auto i = stack().info(*f->handle)) any = *i;
      }
      for (const Expr& fld : want.items) {
        if (fld.kind != Expr::Kind::assignment || fld.items.empty()) {
          skip(e.line, fmt::format("TCP_INFO field {} is not supported", fld.to_string()));
          return std::nullopt;
        }
        check_tcpi(e.line, fld.text, fld.items[0], any);
        if (done_) return std::nullopt;
      }
      return CallResult::ok(0);
    }
    std::int64_t value = 0;
    std::string value_name;  // for SO_ERROR
    if (opt == "SO_ERROR") {
      value_name = errno_for(f->so_error);
      f->so_error = Error::none;
    } else if (opt == "SO_RCVBUF") {
      value = info ? reported_recv_buffer(*info).value_or(f->recv_buffer) : f->recv_buffer;
    } else if (opt == "SO_SNDBUF") {
      value = info ? reported_send_buffer(*info).value_or(f->send_buffer) : f->send_buffer;
    } else if (opt == "TCP_NODELAY") {
      value = f->no_delay ? 1 : 0;
    } else if (opt == "TCP_MAXSEG" && info) {
      value = info->snd_mss;
    } else if (opt == "TCP_KEEPIDLE") {
      value = std::chrono::duration_cast<std::chrono::seconds>(cfg_.tcp.keepalive_idle).count();
    } else if (opt == "TCP_KEEPINTVL") {
      value = std::chrono::duration_cast<std::chrono::seconds>(cfg_.tcp.keepalive_interval).count();
    } else if (opt == "TCP_KEEPCNT") {
      value = cfg_.tcp.keepalive_probes;
    } else if (opt == "TCP_KEEPINIT") {
      value = std::chrono::duration_cast<std::chrono::seconds>(f->keepinit.value_or(cfg_.tcp.syn_r2_timeout)).count();
    } else {
      skip(e.line, fmt::format("getsockopt({}) is not supported", opt));
      return std::nullopt;
    }
    // Compare the value written into the caller's buffer.
    if (want.kind == Expr::Kind::list && want.items.size() == 1) {
      const Expr& w = want.items[0];
      if (opt == "SO_ERROR") {
        const std::string expect_name =
            w.kind == Expr::Kind::identifier ? w.text : (w.kind == Expr::Kind::integer && w.number == 0 ? "" : "?");
        if (expect_name == "?") {
          skip(e.line, fmt::format("SO_ERROR value {} is not supported", w.to_string()));
          return std::nullopt;
        }
        if (!same_errno(expect_name, value_name)) {
          mismatch(e.line, fmt::format("getsockopt(SO_ERROR) gave {}, expected {}",
                                       value_name.empty() ? "0" : value_name, expect_name.empty() ? "0" : expect_name));
          if (done_) return std::nullopt;
        }
      } else if (w.kind == Expr::Kind::integer) {
        if (w.number != value) {
          mismatch(e.line, fmt::format("getsockopt({}) gave {}, expected {}", opt, value, w.number));
          if (done_) return std::nullopt;
        }
      } else if (w.kind != Expr::Kind::ellipsis) {
        skip(e.line, fmt::format("getsockopt value {} is not supported", w.to_string()));
        return std::nullopt;
      }
    }
    return CallResult::ok(0);
  }

  std::optional<CallResult> sys_setsockopt(const Event& e, const SyscallSpec& s) {
    Fd* f = fd_arg(s);
    if (f == nullptr) return bad_fd();
    if (s.args.size() != 5 || s.args[2].kind != Expr::Kind::identifier) {
      skip(e.line, "setsockopt() form is not supported");
      return std::nullopt;
    }
    const std::string& opt = s.args[2].text;
    if (opt == "SO_REUSEADDR" || opt == "SO_REUSEPORT") return CallResult::ok(0);
    SocketOptions o;
    const auto v = expected_option_value(s);
    if (opt == "SO_LINGER") {
      const Expr& x = s.args[3];
      std::optional<std::int64_t> onoff, linger;
      if (x.kind == Expr::Kind::structure) {
        for (const Expr& fld : x.items) {
          if (fld.kind != Expr::Kind::assignment || fld.items.empty() || fld.items[0].kind != Expr::Kind::integer)
            continue;
          if (fld.text == "l_onoff") onoff = fld.items[0].number;
          if (fld.text == "l_linger") linger = fld.items[0].number;
        }
      }
      if (!onoff || !linger || (*onoff != 0 && *linger != 0)) {
        skip(e.line, "SO_LINGER other than {l_onoff=0} or {l_onoff=1, l_linger=0} is not supported");
        return std::nullopt;
      }
      o.linger_zero = *onoff != 0;
    } else if (!v) {
      skip(e.line, fmt::format("setsockopt({}) value {} is not supported", opt, s.args[3].to_string()));
      return std::nullopt;
    } else if (opt == "SO_RCVBUF" || opt == "SO_SNDBUF") {
      if (opt == "SO_RCVBUF") {
        o.recv_buffer = static_cast<std::uint32_t>(*v);
        f->recv_buffer = static_cast<std::uint32_t>(*v);
      } else {
        o.send_buffer = static_cast<std::uint32_t>(*v);
        f->send_buffer = static_cast<std::uint32_t>(*v);
      }
    } else if (opt == "SO_KEEPALIVE") {
      o.keepalive = *v != 0;
    } else if (opt == "TCP_NODELAY") {
      o.no_delay = *v != 0;
      f->no_delay = *v != 0;
    } else if (opt == "TCP_KEEPIDLE") {
      o.keepalive_idle = std::chrono::seconds(*v);
    } else if (opt == "TCP_KEEPINTVL") {
      o.keepalive_interval = std::chrono::seconds(*v);
    } else if (opt == "TCP_KEEPCNT") {
      o.keepalive_probes = static_cast<std::uint8_t>(*v);
    } else if (opt == "TCP_NOOPT") {
      o.no_options = *v != 0;
    } else if (opt == "TCP_KEEPINIT") {
      o.syn_timeout = std::chrono::seconds(*v);
      f->keepinit = std::chrono::seconds(*v);
    } else {
      skip(e.line, fmt::format("setsockopt({}) is not supported by synfin", opt));
      return std::nullopt;
    }
    if (f->handle) {
      const Error err = stack().set_options(*f->handle, o, now_);  // a listener keeps them for its children
      collect();
      if (err != Error::none) return CallResult::error(errno_for(err));
    } else {
      f->pending.update(o);
      f->has_pending = true;
    }
    return CallResult::ok(0);
  }

  // --- poll() --------------------------------------------------------------------------
  // A poll flag expression: POLLIN, POLLIN|POLLOUT, a number; nullopt (after a skip) if unknown.
  std::optional<std::int64_t> poll_flags(const Event& e, const Expr& x) {
    const Expr* bad = &x;
    const auto v = bit_expr(x, poll_bit, &bad);
    if (!v) {
      skip(e.line, bad->kind == Expr::Kind::identifier ? fmt::format("poll flag {} is not supported", bad->text)
                                                       : fmt::format("poll flags {} are not supported", bad->to_string()));
    }
    return v;
  }

  std::optional<PollCall> parse_poll(const Event& e, const SyscallSpec& s) {
    if (s.args.size() != 3 || s.args[0].kind != Expr::Kind::list || s.args[1].kind != Expr::Kind::integer ||
        s.args[2].kind != Expr::Kind::integer) {
      skip(e.line, "poll() needs a list of {fd=, events=, revents=}, a count and a timeout");
      return std::nullopt;
    }
    PollCall c;
    for (const Expr& item : s.args[0].items) {
      if (item.kind != Expr::Kind::structure) {
        skip(e.line, fmt::format("poll() entry {} is not a {{fd=, events=, revents=}} structure", item.to_string()));
        return std::nullopt;
      }
      PollCall::Entry en;
      bool have_fd = false, have_events = false;
      for (const Expr& fld : item.items) {
        if (fld.kind != Expr::Kind::assignment || fld.items.empty()) {
          skip(e.line, fmt::format("poll() entry field {} is not supported", fld.to_string()));
          return std::nullopt;
        }
        const Expr& v = fld.items[0];
        if (fld.text == "fd" && v.kind == Expr::Kind::integer) {
          en.fd = static_cast<int>(v.number);
          have_fd = true;
        } else if (fld.text == "events") {
          auto b = poll_flags(e, v);
          if (!b) return std::nullopt;
          en.events = *b;
          have_events = true;
        } else if (fld.text == "revents") {
          if (v.kind == Expr::Kind::ellipsis) continue;
          auto b = poll_flags(e, v);
          if (!b) return std::nullopt;
          en.revents = *b;
        } else {
          skip(e.line, fmt::format("poll() entry field {} is not supported", fld.to_string()));
          return std::nullopt;
        }
      }
      if (!have_fd || !have_events) {
        skip(e.line, fmt::format("poll() entry {} needs fd= and events=", item.to_string()));
        return std::nullopt;
      }
      c.entries.push_back(en);
    }
    if (s.args[1].number != static_cast<std::int64_t>(c.entries.size())) {
      fail(e.line, fmt::format("poll(): nfds {} does not match the {} entries of the list", s.args[1].number,
                               c.entries.size()));
      return std::nullopt;
    }
    c.timeout_ms = s.args[2].number;
    return c;
  }

  // What a descriptor is ready for now, from synfin's socket state (before masking with the
  // requested events). POLLERR, POLLHUP and POLLNVAL are reported whether requested or not.
  std::int64_t poll_ready(int fdn) {
    auto it = fds_.find(fdn);
    if (it == fds_.end()) return pollbit::nval;
    Fd& f = it->second;
    if (!f.handle) return 0;  // no connection yet: nothing to report
    auto i = stack().info(*f.handle);
    std::int64_t r = 0;
    if (f.listening) {
      if (i && i->accept_queue > 0) r |= pollbit::in | pollbit::rdnorm;
      return r;
    }
    const TcpState st = i ? i->state : TcpState::closed;
    const bool gone = f.reset_seen || f.closed_event || st == TcpState::closed;
    // The receiving side is closed when the peer's FIN arrived or the connection is gone.
    const bool rcv_closed = gone || f.peer_closed || st == TcpState::close_wait || st == TcpState::last_ack ||
                            st == TcpState::closing || st == TcpState::time_wait;
    // The sending side is closed once our FIN is queued (shutdown or close) or the connection is gone.
    const bool snd_closed = gone || st == TcpState::fin_wait_1 || st == TcpState::fin_wait_2 ||
                            st == TcpState::closing || st == TcpState::time_wait || st == TcpState::last_ack;
    if (i && i->recv_queued > 0) r |= pollbit::in | pollbit::rdnorm;
    if (rcv_closed) r |= pollbit::in | pollbit::rdnorm | pollbit::rdhup;
    if (f.so_error != Error::none) r |= pollbit::in | pollbit::rdnorm | pollbit::err;
    if (rcv_closed && snd_closed) r |= pollbit::hup;
    // Writable when there is room, and also once the sending side is closed or an error is
    // pending: a write then fails at once instead of blocking (FreeBSD's sowriteable(),
    // Linux's tcp_poll()).
    if (!snd_closed && i && (st == TcpState::established || st == TcpState::close_wait) &&
        i->send_queued < i->send_buffer)
      r |= pollbit::out | pollbit::wrnorm;
    if (snd_closed || f.so_error != Error::none) r |= pollbit::out | pollbit::wrnorm;
    if (!gone && stack().urgent_pending(*f.handle) > 0) r |= pollbit::pri;
    return r;
  }

  std::vector<std::int64_t> poll_now(const PollCall& c) {
    std::vector<std::int64_t> out;
    for (const auto& en : c.entries) {
      out.push_back(en.fd < 0 ? 0 : poll_ready(en.fd) & (en.events | pollbit::err | pollbit::hup | pollbit::nval));
    }
    return out;
  }

  static std::int64_t poll_count(const std::vector<std::int64_t>& revents) {
    std::int64_t n = 0;
    for (auto r : revents) n += r != 0 ? 1 : 0;
    return n;
  }

  // Checks poll()'s return value, then each entry's revents.
  void finish_poll(const Event& e, const SyscallSpec& s, const PollCall& c, const std::vector<std::int64_t>& got) {
    check_call(e, s, CallResult::ok(poll_count(got)));
    for (std::size_t k = 0; k < c.entries.size() && !done_; ++k) {
      const auto& en = c.entries[k];
      if (en.revents && *en.revents != got[k]) {
        mismatch(e.line, fmt::format("poll() revents for fd {} were {}, expected {}", en.fd,
                                     poll_bits_to_string(got[k]), poll_bits_to_string(*en.revents)));
      }
    }
  }

  std::optional<CallResult> sys_poll(const Event& e, const SyscallSpec& s) {
    auto c = parse_poll(e, s);
    if (!c) return std::nullopt;
    if (pending_) {
      skip(e.line, "poll() while a blocking system call is in progress is not supported");
      return std::nullopt;
    }
    (void)stack();
    Pending p;
    p.event = &e;
    p.started = now_;
    p.poll = *c;
    if (e.time.blocking_end_us) {
      // `a...b poll(...)`: later lines run while it waits; it must return at b.
      p.expected_end = e.time.blocking_end_relative ? now_ + Duration{*e.time.blocking_end_us}
                                                    : at(Duration{*e.time.blocking_end_us});
    }
    auto got = poll_now(*c);
    if (poll_count(got) > 0 || c->timeout_ms == 0) {
      if (e.time.blocking_end_us && now_ + tolerance_ < p.expected_end) {
        fail(e.line, fmt::format("timing error: poll() expected to return at {:.6f} s but returned at {:.6f} s",
                                 seconds(p.expected_end), seconds(now_)));
        return std::nullopt;
      }
      finish_poll(e, s, *c, got);
      return std::nullopt;
    }
    // Nothing is ready: wait, in virtual time, for an event or the timeout.
    if (c->timeout_ms > 0) p.poll_deadline = now_ + std::chrono::milliseconds(c->timeout_ms);
    if (e.time.blocking_end_us) {
      pending_ = p;
      log(fmt::format("line {}: poll blocks", e.line));
      return std::nullopt;
    }
    // Without `...` the script waits for the call: only timers can make it ready meanwhile.
    p.check_time = false;
    pending_ = p;
    int guard = 0;
    while (pending_ && !done_) {
      const Instant d = next_wake();
      if (d == kNever) break;
      if (d > now_) now_ = d;
      stack().poll(now_);
      collect();
      complete_pending();
      if (++guard > 1'000'000) {
        fail(e.line, "the stack's timers do not advance");
        return std::nullopt;
      }
      if (pending_ && next_wake() <= now_) now_ += Duration{1};
    }
    if (pending_ && !done_) {
      pending_.reset();
      fail(e.line, "poll() with no timeout waits for ever: nothing can make it ready before the next line");
    }
    return std::nullopt;
  }

  // --- blocking calls ------------------------------------------------------------------
  std::optional<CallResult> block(const Event& e, int fd) {
    if (pending_) {
      skip(e.line, "a second blocking system call while one is in progress is not supported");
      return std::nullopt;
    }
    Pending p;
    p.event = &e;
    p.fd = fd;
    p.started = now_;
    if (e.time.blocking_end_us) {
      p.expected_end = e.time.blocking_end_relative ? now_ + Duration{*e.time.blocking_end_us}
                                                    : at(Duration{*e.time.blocking_end_us});
    } else {
      p.expected_end = now_;
    }
    pending_ = p;
    log(fmt::format("line {}: {} blocks", e.line, std::get<SyscallSpec>(e.body).name));
    return std::nullopt;
  }

  // Finishes a blocking call whose condition now holds.
  void complete_pending() {
    if (!pending_ || done_) return;
    const Pending p = *pending_;
    const auto& s = std::get<SyscallSpec>(p.event->body);
    if (p.poll) {
      auto got = poll_now(*p.poll);
      if (poll_count(got) == 0 && !(p.poll_deadline && now_ >= *p.poll_deadline)) return;
      pending_.reset();
      const Event* saved = event_;
      event_ = p.event;
      if (p.check_time && (now_ < p.expected_end - tolerance_ || now_ > p.expected_end + tolerance_)) {
        fail(p.event->line, fmt::format("timing error: poll() expected to return at {:.6f} s but returned at "
                                        "{:.6f} s",
                                        seconds(p.expected_end), seconds(now_)));
      } else {
        finish_poll(*p.event, s, *p.poll, got);
      }
      event_ = saved;
      return;
    }
    auto fit = fds_.find(p.fd);
    if (fit == fds_.end()) return;
    Fd& f = fit->second;
    std::optional<CallResult> r;
    if (s.name == "connect") {
      if (f.connected) r = CallResult::ok(0);
      else if (f.so_error != Error::none) {
        r = CallResult::error(errno_for(f.so_error));
        f.so_error = Error::none;
      } else if (f.closed_event) {
        r = CallResult::error("ECONNABORTED");
      }
    } else if (s.name == "accept") {
      auto a = try_accept(p.fd, s.result.number);
      if (a && a->err != "EAGAIN") r = a;
    } else {
      const bool peek = s.args.size() >= 4 && s.args[3].kind == Expr::Kind::identifier;
      auto c = do_recv(p.fd, s.args[2].number, peek);
      if (c.err != "EAGAIN") r = c;
    }
    if (!r) return;
    pending_.reset();
    const Event* saved = event_;
    event_ = p.event;
    if (now_ < p.expected_end - tolerance_ || now_ > p.expected_end + tolerance_) {
      fail(p.event->line, fmt::format("timing error: {}() expected to return at {:.6f} s but returned at {:.6f} s",
                                      s.name, seconds(p.expected_end), seconds(now_)));
    } else {
      check_call(*p.event, s, *r);
    }
    event_ = saved;
  }

  // --- shell commands and code ---------------------------------------------------------
  void shell(const Event& e, const ShellCommand& c) {
    if (!reach(e.time)) return;
    const auto kind = classify_shell(profile_, c.text);
    if (const auto* u = std::get_if<UnsupportedCommand>(&kind)) {
      skip(e.line, u->reason);
      return;
    }
    if (const auto* sc = std::get_if<SysctlCommand>(&kind)) {
      StackConfig next = cfg_;
      if (auto why = apply_sysctl(profile_, next, sc->name, sc->value)) {
        skip(e.line, *why);
        return;
      }
      // Like a sysctl, a configuration change reaches the running stack and its connections.
      if (stack_ && !sysctl_fields_equal(next.tcp, cfg_.tcp)) stack_->update_tcp_config(next.tcp);
      cfg_ = next;
      return;
    }
    if (const auto* ss = std::get_if<SockstatCommand>(&kind)) {
      const std::uint64_t n = count_in_state(ss->state);
      if (n != ss->expected_count) {
        fail(e.line, fmt::format("`{}`: synfin has {} connection(s) in {}, expected {}", c.text, n,
                                 synfin::to_string(ss->state), ss->expected_count));
      }
      return;
    }
    if (const auto* td = std::get_if<TcpdropCommand>(&kind)) {
      const std::uint64_t total = count_in_state(td->state);
      std::uint64_t dropped = 0;
      for (auto& [n, f] : fds_) {
        if (!f.handle || f.listening) continue;
        auto i = stack().info(*f.handle);
        if (i && i->state == td->state) {
          (void)stack().abort(*f.handle, now_);
          fd_of_handle_.erase(handle_key(*f.handle));
          f.handle.reset();
          ++dropped;
        }
      }
      collect();
      if (dropped != total) {
        skip(e.line, fmt::format("tcpdrop: {} connection(s) in {} no longer belong to the application, and "
                                 "synfin has no API to drop those",
                                 total - dropped, synfin::to_string(td->state)));
      }
    }
  }

  std::uint64_t count_in_state(TcpState s) {
    if (s == TcpState::closed) {
      // Sockets that exist but have no connection (or a finished one) show as CLOSED.
      std::uint64_t n = 0;
      for (auto& [num, f] : fds_) {
        if (f.listening) continue;
        if (!f.handle) {
          ++n;
          continue;
        }
        auto i = stack().info(*f.handle);
        if (!i || i->state == TcpState::closed) ++n;
      }
      return n;
    }
    if (s == TcpState::listen) {
      std::uint64_t n = 0;
      for (auto& [num, f] : fds_) n += f.listening ? 1 : 0;
      return n;
    }
    if (!stack_) return 0;
    return stack_->counters().connections_by_state[static_cast<std::size_t>(s)];
  }

  // `%{ assert tcpi_FIELD == VALUE }%` lines: VALUE is a name, a number, or names and numbers
  // joined by `|` (in parentheses or not).
  void code(const Event& e, const CodeBlock& c) {
    if (!reach(e.time)) return;
    std::istringstream in(c.text);
    std::string stmt;
    while (std::getline(in, stmt)) {
      auto trim = [](std::string x) {
        const auto a = x.find_first_not_of(" \t\r");
        if (a == std::string::npos) return std::string();
        const auto b = x.find_last_not_of(" \t\r;");
        return x.substr(a, b - a + 1);
      };
      stmt = trim(stmt);
      if (stmt.empty()) continue;
      const auto eq = stmt.find("==");
      if (!stmt.starts_with("assert ") || eq == std::string::npos || stmt.find("==", eq + 2) != std::string::npos) {
        skip(e.line, fmt::format("code '{}' is not supported", stmt));
        return;
      }
      const std::string lhs = trim(stmt.substr(7, eq - 7));
      std::string rhs = trim(stmt.substr(eq + 2));
      while (rhs.size() >= 2 && rhs.front() == '(' && rhs.back() == ')') rhs = trim(rhs.substr(1, rhs.size() - 2));
      Expr want;
      want.kind = Expr::Kind::bit_or;
      bool well_formed = !lhs.empty() && lhs.find_first_of(" \t()") == std::string::npos;
      std::istringstream terms(rhs);
      std::string term;
      while (well_formed && std::getline(terms, term, '|')) {
        term = trim(term);
        if (term.empty() || term.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                                std::string::npos) {
          well_formed = false;
        } else if (term[0] >= '0' && term[0] <= '9') {
          try {
            std::size_t used = 0;
            const auto v = std::stoll(term, &used, 0);
            if (used != term.size()) well_formed = false;
            else want.items.push_back(Expr::integer(v));
          } catch (const std::exception&) {
            well_formed = false;
          }
        } else {
          want.items.push_back(Expr::identifier(term));
        }
      }
      if (!well_formed || want.items.empty()) {
        skip(e.line, fmt::format("code '{}' is not supported", stmt));
        return;
      }
      if (want.items.size() == 1) want = Expr(want.items[0]);
      check_tcpi(e.line, lhs, want, info_under_test());
      if (done_) return;
    }
  }

  // TCP_INFO's tcpi_options bits (FreeBSD and Linux agree on them).
  static std::optional<std::int64_t> tcpi_opt_bit(const std::string& name) {
    if (name == "TCPI_OPT_TIMESTAMPS") return 1;
    if (name == "TCPI_OPT_SACK") return 2;
    if (name == "TCPI_OPT_WSCALE") return 4;
    if (name == "TCPI_OPT_ECN") return 8;
    if (name == "TCPI_OPT_TOE") return 16;
    return std::nullopt;
  }

  std::optional<std::int64_t> tcpi_number(int l, const Expr& x) {
    const Expr* bad = &x;
    const auto v = bit_expr(x, tcpi_opt_bit, &bad);
    if (!v) skip(l, fmt::format("TCP_INFO value {} is not supported", bad->to_string()));
    return v;
  }

  // Compares one TCP_INFO field with what the script expects. Only fields whose value synfin
  // really has are answered; any other field skips the script.
  void check_tcpi(int l, const std::string& field, const Expr& want, const std::optional<SocketInfo>& info) {
    if (want.kind == Expr::Kind::ellipsis) return;
    if (field == "tcpi_state") {
      if (want.kind != Expr::Kind::identifier || !want.text.starts_with("TCPI_")) {
        skip(l, fmt::format("tcpi_state value {} is not supported", want.to_string()));
        return;
      }
      std::string name = want.text.substr(5);
      if (name == "SYN_RECEIVED") name = "SYN_RCVD";
      auto st = freebsd_state(name);
      if (!st) {
        skip(l, fmt::format("unknown state {}", want.text));
        return;
      }
      const TcpState have = info ? info->state : TcpState::closed;
      if (have != *st) fail(l, fmt::format("tcpi_state is {}, expected {}", synfin::to_string(have), synfin::to_string(*st)));
      return;
    }
    std::optional<std::int64_t> have;
    if (field == "tcpi_options" || field == "tcpi_snd_wscale" || field == "tcpi_rcv_wscale") {
      if (info) have = negotiated(*info, field);
      if (!have) {
        skip(l, fmt::format("{}: synfin's SocketInfo does not report the negotiated options{}", field,
                            info ? "" : " (and there is no connection)"));
        return;
      }
    } else if (field == "tcpi_snd_mss" || field == "tcpi_rcv_mss") {
      if (!info) {
        skip(l, fmt::format("{}: there is no connection to ask", field));
        return;
      }
      have = field == "tcpi_snd_mss" ? info->snd_mss : info->rcv_mss;
    } else {
      skip(l, fmt::format("TCP_INFO field {} is not supported (only tcpi_state, tcpi_options, tcpi_snd_mss, "
                          "tcpi_rcv_mss, tcpi_snd_wscale, tcpi_rcv_wscale)",
                          field));
      return;
    }
    const auto w = tcpi_number(l, want);
    if (!w) return;
    if (*w != *have) {
      if (field == "tcpi_options")
        fail(l, fmt::format("tcpi_options is {:#x}, expected {:#x} ({})", *have, *w, want.to_string()));
      else
        fail(l, fmt::format("{} is {}, expected {}", field, *have, *w));
    }
  }

  // The options the connection negotiated, when SocketInfo reports them (fields named as in
  // the connection's own ConnectionInfo). synfin has no ECN and no offload engine, so
  // TCPI_OPT_ECN and TCPI_OPT_TOE are never set.
  template <typename T>
  static std::optional<std::int64_t> negotiated(const T& info, const std::string& field) {
    if constexpr (requires { info.timestamps; info.sack; info.window_scaling; info.snd_wscale; info.rcv_wscale; }) {
      if (field == "tcpi_snd_wscale") return info.window_scaling ? info.snd_wscale : 0;
      if (field == "tcpi_rcv_wscale") return info.window_scaling ? info.rcv_wscale : 0;
      std::int64_t v = 0;
      if (info.timestamps) v |= 1;
      if (info.sack) v |= 2;
      if (info.window_scaling) v |= 4;
      return v;
    } else {
      (void)info;
      (void)field;
      return std::nullopt;
    }
  }

  std::optional<SocketInfo> info_under_test() {
    int fd = last_fd_;
    if (fd < 0 || fds_.count(fd) == 0) {
      for (auto& [n, f] : fds_) fd = n;
    }
    auto it = fds_.find(fd);
    if (it == fds_.end() || !it->second.handle) return std::nullopt;
    auto i = stack().info(*it->second.handle);
    if (!i) return std::nullopt;
    return *i;
  }

  // --- the end -------------------------------------------------------------------------
  void finish() {
    if (done_) return;
    if (deferred_) {
      fail(deferred_->first, deferred_->second);
      return;
    }
    if (pending_) {
      advance_to(pending_->expected_end + tolerance_);
      if (done_) return;
      if (pending_) {
        const auto& s = std::get<SyscallSpec>(pending_->event->body);
        fail(pending_->event->line, fmt::format("{}() did not return by {:.6f} s", s.name,
                                                seconds(pending_->expected_end + tolerance_)));
        return;
      }
    }
    for (const SentPacket& p : sent_) {
      std::string what = fmt::format("synfin sent {} at {:.6f} s, which the script does not expect", describe(p),
                                     seconds(p.at));
      if (profile_.strict_end) {
        fail(line(), std::move(what));
        return;
      }
      result_.warnings.push_back(std::move(what));
    }
  }

  const Script& script_;
  const Profile& profile_;
  RunOptions opts_;
  RunResult result_;
  bool done_ = false;
  const Event* event_ = nullptr;

  StackConfig cfg_;
  std::unique_ptr<Stack> stack_;
  Instant now_ = kEpoch;
  Duration tolerance_{4000};
  std::uint16_t mtu_ = 1500;
  bool non_fatal_syscalls_ = false;
  std::optional<std::pair<int, std::string>> deferred_;

  std::uint16_t local_port_ = 0;
  std::uint16_t remote_port_ = 0;
  bool isn_known_ = false;
  std::uint32_t live_local_isn_ = 0;
  std::uint32_t script_local_isn_ = 0;
  std::unordered_map<std::uint32_t, std::uint32_t> ts_val_map_;

  std::deque<SentPacket> sent_;
  std::map<int, Fd> fds_;
  std::unordered_map<std::uint64_t, int> fd_of_handle_;
  int last_fd_ = -1;
  std::optional<Pending> pending_;
};

}  // namespace

RunResult run_script(const Script& script, const Profile& profile, const RunOptions& options) {
  Interpreter in(script, profile, options);
  return in.run();
}

RunResult run_file(const std::string& path, const Profile& profile, const RunOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    RunResult r;
    r.verdict = Verdict::fail;
    r.reason = "cannot read the file";
    return r;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  auto s = parse_script(ss.str(), profile.defines, path);
  if (!s) {
    // A script the runner would skip anyway for its header is skipped, not failed.
    Script header;
    header.path = path;
    header.options = s.error().options;
    RunResult h = run_script(header, profile, options);
    if (h.verdict == Verdict::skip) return h;
    RunResult r;
    r.verdict = Verdict::fail;
    r.line = s.error().line;
    r.reason = "parse error: " + s.error().message;
    return r;
  }
  return run_script(*s, profile, options);
}

}  // namespace synfin::pkt

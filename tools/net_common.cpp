// Shared set-up of the network commands. See net_common.hpp.
#include "net_common.hpp"

#include <sys/random.h>

#include <charconv>

#include <fmt/format.h>

namespace synfin::tools {

void add_net_options(CLI::App* cmd, NetOptions& o) {
  cmd->add_option("--tun", o.tun,
                  "The TUN device to use: attached to if it exists (e.g. made with 'ip tuntap add dev NAME mode "
                  "tun'), created if not (a created device disappears when synfin exits)")
      ->capture_default_str();
  cmd->add_option("--addr", o.addr, "synfin's own IPv4 address and prefix on the device, e.g. 10.0.0.2/24")->required();
  cmd->add_option("--kernel-addr", o.kernel_addr,
                  "Give the kernel's side of the device this IPv4 address (same prefix as --addr) and bring it up; "
                  "leave it out when the device is set up beforehand");
  cmd->add_option("--mtu", o.mtu, "MTU of the device and of synfin's interface (default: the device's)")
      ->check(CLI::Range(576, 65535));
  cmd->add_option("--impair", o.impair,
                  "Faults injected between synfin and the device, both directions: "
                  "loss=P,delay=D,jitter=J,reorder=P,duplicate=P[,corrupt=P,rate=R,seed=N], "
                  "e.g. loss=1%,delay=10ms,jitter=2ms,reorder=0.02");
  cmd->add_option("--pcap", o.pcap, "Write every packet synfin sends and receives to this pcap file");
  cmd->add_option("--max-window", o.max_window,
                  "Largest receive window synfin advertises (its receive buffer's auto-tuning limit), e.g. 256k "
                  "(default: the stack's, 4M)");
  cmd->add_option("--trace", o.trace,
                  "Write every trace event of the stack (segments, state changes, drops, timers) to this "
                  "file, one line each (JSON lines if the name ends in .json or .jsonl)");
  cmd->add_flag("--stats", o.stats, "Print the stack's and the device's counters at exit");

  // The TCP options synfin offers in its SYN or SYN-ACK; each is used only when the peer
  // offers it too. Turning one off makes synfin neither offer nor accept it.
  const auto on_off = [&](const char* name, std::string& value, const char* what) {
    cmd->add_option(name, value, what)
        ->check(CLI::IsMember({"on", "off"}).description(""))
        ->type_name("on|off")
        ->capture_default_str()
        ->group("TCP options");
  };
  on_off("--wscale", o.wscale,
         "Window scaling (RFC 7323): offer a window scale in the handshake, so that windows beyond 64 KB can be "
         "announced");
  on_off("--timestamps", o.timestamps,
         "Timestamps (RFC 7323): offer the timestamps option, for RTT measurement on every ACK and PAWS");
  on_off("--sack", o.sack,
         "Selective acknowledgements (RFC 2018, 2883): offer SACK-permitted; as a receiver synfin then reports "
         "the blocks it holds, as a sender it recovers by RFC 6675");
  cmd->add_option("--cc", o.cc, "Congestion control: cubic (RFC 9438) or newreno (RFC 5681, RFC 6582)")
      ->check(CLI::IsMember({"cubic", "newreno"}).description(""))
      ->type_name("cubic|newreno")
      ->capture_default_str()
      ->group("TCP options");
}

Result<std::pair<Ipv4Addr, std::uint8_t>, std::string> parse_cidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return fail(fmt::format("'{}' needs a prefix length, e.g. {}/24", text, text));
  }
  auto a = Ipv4Addr::parse(text.substr(0, slash));
  if (!a) return fail(fmt::format("'{}' is not an IPv4 address", text.substr(0, slash)));
  const std::string_view p = text.substr(slash + 1);
  unsigned prefix = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || prefix < 1 || prefix > 32) {
    return fail(fmt::format("bad prefix length '{}' (1 to 32)", p));
  }
  if (a->is_unspecified() || a->is_multicast() || a->is_broadcast() || a->is_loopback()) {
    return fail(fmt::format("{} cannot be synfin's address", a->to_string()));
  }
  return std::pair{*a, static_cast<std::uint8_t>(prefix)};
}

Result<std::uint64_t, std::string> parse_size(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end == text.data()) return fail(fmt::format("bad size '{}'", text));
  const std::string_view suffix(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::uint64_t m = 1;
  if (suffix.empty() || suffix == "B") m = 1;
  else if (suffix == "k" || suffix == "K" || suffix == "KB") m = 1ull << 10;
  else if (suffix == "M" || suffix == "MB") m = 1ull << 20;
  else if (suffix == "G" || suffix == "GB") m = 1ull << 30;
  else return fail(fmt::format("bad size suffix in '{}' (use k, M or G)", text));
  return n * m;
}

Result<std::unique_ptr<NetContext>, std::string> NetContext::open(const NetOptions& o) {
  auto cidr = parse_cidr(o.addr);
  if (!cidr) return fail("--addr: " + cidr.error());
  std::unique_ptr<NetContext> ctx(new NetContext());
  ctx->addr_ = cidr->first;
  ctx->prefix_ = cidr->second;

  link::TunOptions topts;
  topts.name = o.tun;
  topts.mtu = static_cast<std::uint16_t>(o.mtu);
  if (!o.kernel_addr.empty()) {
    auto k = Ipv4Addr::parse(o.kernel_addr);
    if (!k) return fail(fmt::format("--kernel-addr: '{}' is not an IPv4 address", o.kernel_addr));
    const std::uint32_t mask = ctx->prefix_ >= 32 ? ~0u : ~((1u << (32 - ctx->prefix_)) - 1);
    if ((k->value & mask) != (ctx->addr_.value & mask)) {
      return fail(fmt::format("--kernel-addr {} is not in synfin's subnet {}", k->to_string(), o.addr));
    }
    if (*k == ctx->addr_) return fail(std::string("--kernel-addr must differ from --addr"));
    topts.kernel_addr = *k;
    topts.kernel_prefix = ctx->prefix_;
  }

  std::uint64_t seed = 0;
  link::Impairments imp;
  bool impaired = false;
  if (!o.impair.empty()) {
    auto parsed = link::Impairments::parse(o.impair, &seed);
    if (!parsed) return fail("--impair: " + parsed.error());
    imp = *parsed;
    impaired = true;
    ctx->impair_text_ = o.impair;
  }

  auto tun = link::TunDevice::open(topts);
  if (!tun) return fail(tun.error());
  const std::uint16_t mtu = (*tun)->mtu();
  ctx->tun_ = tun->get();
  if (impaired) {
    if (seed == 0) (void)::getrandom(&seed, sizeof seed, 0);
    auto wrapped = std::make_unique<link::ImpairedDevice>(std::move(*tun), imp, imp, seed);
    ctx->impaired_ = wrapped.get();
    ctx->device_ = std::move(wrapped);
  } else {
    ctx->device_ = std::move(*tun);
  }

  StackConfig cfg;
  cfg.name = "synfin";
  if (::getrandom(cfg.secret.data(), cfg.secret.size(), 0) != static_cast<ssize_t>(cfg.secret.size())) {
    return fail(std::string("cannot read random bytes for the stack secret"));
  }
  (void)::getrandom(&cfg.seed, sizeof cfg.seed, 0);
  cfg.tcp.send_buffer = o.send_buffer;
  if (!o.max_window.empty()) {
    auto w = parse_size(o.max_window);
    if (!w || *w < 1024 || *w > (1u << 30)) return fail(fmt::format("--max-window: '{}' is not a size from 1k to 1G", o.max_window));
    cfg.tcp.max_recv_buffer = static_cast<std::uint32_t>(*w);
    cfg.tcp.recv_buffer = std::min(cfg.tcp.recv_buffer, cfg.tcp.max_recv_buffer);
  }
  cfg.tcp.window_scaling = o.wscale == "on";
  cfg.tcp.timestamps = o.timestamps == "on";
  cfg.tcp.sack = o.sack == "on";
  cfg.tcp.congestion = o.cc == "newreno" ? CongestionAlgorithm::newreno : CongestionAlgorithm::cubic;
  ctx->tcp_text_ = fmt::format("TCP: wscale {}, timestamps {}, sack {}, cc {}", o.wscale, o.timestamps, o.sack,
                               to_string(cfg.tcp.congestion));
  ctx->stack_ = std::make_unique<Stack>(cfg);
  ctx->stack_->add_interface(Interface{ctx->addr_, ctx->prefix_, mtu});

  ctx->loop_ = std::make_unique<runtime::EventLoop>(*ctx->stack_, *ctx->device_);
  if (std::string e = ctx->loop_->init(); !e.empty()) return fail(e);
  if (!o.pcap.empty()) {
    auto r = ctx->pcap_.open(o.pcap);
    if (!r) return fail(fmt::format("--pcap: {}", r.error()));
    ctx->loop_->tap(&ctx->pcap_);
  }
  if (!o.trace.empty()) {
    ctx->trace_file_ = std::fopen(o.trace.c_str(), "w");
    if (ctx->trace_file_ == nullptr) return fail(fmt::format("--trace: cannot write {}", o.trace));
    const bool json = o.trace.ends_with(".json") || o.trace.ends_with(".jsonl");
    if (json) ctx->trace_ = std::make_unique<JsonTraceSink>(ctx->trace_file_);
    else ctx->trace_ = std::make_unique<TextTraceSink>(ctx->trace_file_);
    ctx->stack_->set_trace(ctx->trace_.get());
  }
  return ctx;
}

NetContext::~NetContext() {
  loop_.reset();
  pcap_.close();
  if (stack_) stack_->set_trace(nullptr);
  trace_.reset();
  if (trace_file_ != nullptr) std::fclose(trace_file_);
}

std::string NetContext::describe() const {
  std::string s = fmt::format("{}/{} on {}", addr_.to_string(), prefix_, tun_->describe());
  if (!impair_text_.empty()) s += fmt::format(", impaired: {}", impair_text_);
  s += ", " + tcp_text_;
  return s;
}

void NetContext::print_stats(std::FILE* f) const {
  const Counters& c = stack_->counters();
  const link::DeviceStats& d = tun_->stats();
  fmt::print(f,
             "stack: {} packets in, {} out; {} segments in, {} out; {} retransmissions; {} resets in, {} out; "
             "{} drops; {} connections open\n",
             c.packets_in, c.packets_out, c.segments_in, c.segments_out, c.retransmissions, c.resets_in, c.resets_out,
             c.total_drops(), stack_->connection_count());
  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    if (c.drops[r] != 0) {
      fmt::print(f, "  dropped {}: {} ({})\n", c.drops[r], to_string(static_cast<DropReason>(r)),
                 synfin::describe(static_cast<DropReason>(r)));
    }
  }
  fmt::print(f, "device {}: {} packets read, {} written, {} write drops, {} write errors\n", tun_->name(), d.packets_in,
             d.packets_out, d.write_drops, d.write_errors);
  if (impaired_ != nullptr) {
    for (int dir = 0; dir < 2; ++dir) {
      const link::LinkStats& s = dir == 0 ? impaired_->towards_kernel() : impaired_->towards_stack();
      fmt::print(f, "impairment towards the {}: {} packets, {} lost, {} duplicated, {} reordered, {} corrupted\n",
                 dir == 0 ? "kernel" : "stack", s.sent, s.lost, s.duplicated, s.reordered, s.corrupted);
    }
  }
  const runtime::LoopStats& l = loop_->stats();
  fmt::print(f, "event loop: {} wake-ups ({} by the timer), {} passes\n", l.wakeups, l.timer_wakeups, l.passes);
}

}  // namespace synfin::tools

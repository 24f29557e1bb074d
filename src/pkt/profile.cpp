// Profiles and shell emulation; see profile.hpp.
//
// Sysctls follow one rule: a value equal to FreeBSD's default asks for nothing the profile
// does not already stand for, so it is honoured (any remaining difference between synfin and
// FreeBSD then shows up as a failure at the packet or system call where it is visible). A
// different value must map onto a synfin configuration knob; without one the script is
// skipped with the knob named, never passed.
#include "pkt/profile.hpp"

#include <fmt/format.h>

#include <functional>
#include <sstream>

namespace synfin::pkt {

namespace {

StackConfig base_config() {
  StackConfig c;
  c.name = "synfin";
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(0x5a ^ (i * 37));
  c.seed = 7;
  return c;
}

Profile synfin_profile() {
  Profile p;
  p.name = "synfin";
  p.stack = base_config();
  p.defines = {"STANDARD", "synfin"};
  return p;
}

Profile freebsd_profile() {
  Profile p;
  p.name = "freebsd";
  p.stack = base_config();
  p.defines = {"FreeBSD"};
  p.freebsd_shell = true;
  p.strict_end = false;
  TcpConfig& t = p.stack.tcp;
  // net.inet.tcp.sendspace / recvspace.
  t.send_buffer = 32768;
  t.recv_buffer = 65536;
  // net.inet.tcp.mssdflt.
  t.default_peer_mss = 536;
  // net.inet.tcp.rexmit_initial (1 s). FreeBSD's RTO is max(rexmit_min 30 ms, SRTT + 4 *
  // RTTVAR) plus rexmit_slop (200 ms) on every timeout; synfin has no additive slop, so the
  // floor is the nearest it can come: 230 ms.
  t.initial_rto = std::chrono::milliseconds(1000);
  t.min_rto = std::chrono::milliseconds(230);
  // net.inet.tcp.delacktime.
  t.delayed_ack = std::chrono::milliseconds(100);
  // net.inet.tcp.msl (30 s): TIME-WAIT lasts 60 s.
  t.msl = std::chrono::seconds(30);
  t.time_wait_rst = TimeWaitRst::ignore;
  // net.inet.tcp.keepidle / keepintvl / keepcnt.
  t.keepalive_idle = std::chrono::seconds(7200);
  t.keepalive_interval = std::chrono::seconds(75);
  t.keepalive_probes = 8;
  // net.inet.tcp.keepinit (75 s) bounds connection establishment. RFC 9293 MUST-23 asks for
  // at least 3 minutes of SYN retransmission; this is FreeBSD's choice, not synfin's.
  t.syn_r2_timeout = std::chrono::seconds(75);
  // net.inet.tcp.initcwnd_segments.
  t.initial_window_segments = 10;
  // net.inet.tcp.ack_war_cnt (challenge ACKs per second, RFC 5961).
  t.challenge_ack_limit = 5;
  // Without a Fast Open server FreeBSD discards data carried on a SYN to a listener (its SYN
  // cache keeps none); on the peer's SYN in SYN-SENT it keeps the data for later.
  t.accept_syn_data = false;
  t.accept_syn_data_in_syn_sent = true;
  // RFC 7323 and SACK on (net.inet.tcp.rfc1323=1, sack.enable=1); the window scale offered
  // follows kern.ipc.maxsockbuf (2 MiB: scale 6); segments without timestamps are tolerated
  // (net.inet.tcp.tolerate_missing_ts=1).
  t.window_scaling = true;
  t.timestamps = true;
  t.sack = true;
  t.max_recv_buffer = 2097152;
  t.max_send_buffer = 2097152;
  t.require_timestamps = false;
  // NewReno was FreeBSD's default congestion control when the suite was written.
  t.congestion = CongestionAlgorithm::newreno;
  // tcp_mss() rounds both socket buffers up to a whole number of segments; delayed ACKs go
  // out for every second segment, whatever its size; every RTO from samples or backoff gets
  // rexmit_slop (200 ms) added to a rexmit_min floor of 30 ms.
  t.round_buffers_to_mss = true;
  t.receiver_sws = ReceiverSws::bsd;
  t.accept_free_space = true;
  t.resend_fin_with_ack = true;
  // tcp_drop() sets ECONNRESET on an RST in CLOSING and LAST-ACK as in any other state.
  t.reset_after_shutdown_is_error = true;
  t.ack_every_second_segment = true;
  t.rto_slop = std::chrono::milliseconds(200);
  t.min_rto = std::chrono::milliseconds(30);
  // ICMP administratively prohibited aborts an opening connection (tcp_ctlinput).
  p.stack.icmp_prohibited_is_hard = true;
  return p;
}

struct SysctlRule {
  const char* name;
  std::int64_t freebsd_default;
  // Applies a non-default value; returns why it cannot (nullptr: no knob at all).
  std::function<std::optional<std::string>(TcpConfig&, std::int64_t)> apply;
  const char* missing;  // the knob synfin would need, for the skip reason
};

std::optional<std::string> ms_knob(Duration& d, std::int64_t v) {
  if (v < 0) return std::string("negative time");
  d = std::chrono::milliseconds(v);
  return std::nullopt;
}

const std::vector<SysctlRule>& sysctl_rules() {
  static const std::vector<SysctlRule> rules = {
      {"net.inet.tcp.rfc1323", 1,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.window_scaling = v != 0;
         c.timestamps = v != 0;
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.blackhole", 0, nullptr, "a switch to send no RST for segments to closed ports"},
      {"net.inet.tcp.sack.enable", 1,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.sack = v != 0;
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.ecn.enable", 2, nullptr, "ECN (RFC 3168) and its modes"},
      {"net.inet.tcp.ecn.maxretries", 1, nullptr, "ECN (RFC 3168) SYN retries"},
      {"net.inet.tcp.rexmit_initial", 1000,
       [](TcpConfig& c, std::int64_t v) { return ms_knob(c.initial_rto, v); }, nullptr},
      {"net.inet.tcp.rexmit_slop", 200,
       [](TcpConfig& c, std::int64_t v) { return ms_knob(c.rto_slop, v); }, nullptr},
      {"net.inet.tcp.rexmit_drop_options", 0, nullptr,
       "a switch to drop options from the third SYN retransmission"},
      // FreeBSD offers the smallest window scale that lets a window cover sb_max; synfin
      // derives its scale from max_recv_buffer the same way.
      {"kern.ipc.maxsockbuf", 2097152,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         if (v <= 0) return std::string("a non-positive buffer size");
         c.max_recv_buffer = static_cast<std::uint32_t>(v);
         c.max_send_buffer = static_cast<std::uint32_t>(v);
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.recvspace", 65536,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.recv_buffer = static_cast<std::uint32_t>(v);
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.sendspace", 32768,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.send_buffer = static_cast<std::uint32_t>(v);
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.insecure_rst", 0,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.rfc5961_rst = v == 0;
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.insecure_syn", 0,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.rfc5961_syn = v == 0;
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.drop_synfin", 0,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.drop_syn_fin = v != 0;
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.icmp_may_rst", 1, nullptr,
       "a switch to make ICMP errors never reset a connection"},
      {"net.inet.tcp.keepcnt", 8,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.keepalive_probes = static_cast<std::uint8_t>(v);
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.keepidle", 7200000,
       [](TcpConfig& c, std::int64_t v) { return ms_knob(c.keepalive_idle, v); }, nullptr},
      {"net.inet.tcp.keepintvl", 75000,
       [](TcpConfig& c, std::int64_t v) { return ms_knob(c.keepalive_interval, v); }, nullptr},
      {"net.inet.tcp.keepinit", 75000,
       [](TcpConfig& c, std::int64_t v) { return ms_knob(c.syn_r2_timeout, v); }, nullptr},
      {"net.inet.tcp.delacktime", 100,
       [](TcpConfig& c, std::int64_t v) { return ms_knob(c.delayed_ack, v); }, nullptr},
      {"net.inet.tcp.fastopen.client_enable", 1, nullptr, "a switch for the Fast Open client (RFC 7413)"},
      {"net.inet.tcp.syncookies", 1, nullptr, "a switch for SYN cookies"},
      {"net.inet.tcp.syncookies_only", 0, nullptr, "a switch for SYN cookies without a SYN cache"},
      {"net.inet.tcp.tolerate_missing_ts", 1,
       [](TcpConfig& c, std::int64_t v) -> std::optional<std::string> {
         c.require_timestamps = v == 0;
         return std::nullopt;
       },
       nullptr},
      {"net.inet.tcp.udp_tunneling_port", 0, nullptr, "TCP over UDP encapsulation (RFC 6951)"},
      {"net.inet.tcp.udp_tunneling_overhead", 8, nullptr, "TCP over UDP encapsulation (RFC 6951)"},
  };
  return rules;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

}  // namespace

std::optional<Profile> profile_by_name(const std::string& name) {
  if (name == "freebsd") return freebsd_profile();
  if (name == "synfin") return synfin_profile();
  return std::nullopt;
}

std::vector<std::string> profile_names() { return {"freebsd", "synfin"}; }

bool sysctl_fields_equal(const TcpConfig& a, const TcpConfig& b) {
  return a.recv_buffer == b.recv_buffer && a.send_buffer == b.send_buffer && a.initial_rto == b.initial_rto &&
         a.window_scaling == b.window_scaling && a.timestamps == b.timestamps && a.sack == b.sack &&
         a.max_recv_buffer == b.max_recv_buffer && a.max_send_buffer == b.max_send_buffer &&
         a.require_timestamps == b.require_timestamps &&
         a.keepalive_probes == b.keepalive_probes && a.keepalive_idle == b.keepalive_idle &&
         a.keepalive_interval == b.keepalive_interval && a.syn_r2_timeout == b.syn_r2_timeout &&
         a.delayed_ack == b.delayed_ack && a.rto_slop == b.rto_slop && a.rfc5961_rst == b.rfc5961_rst &&
         a.rfc5961_syn == b.rfc5961_syn && a.drop_syn_fin == b.drop_syn_fin;
}

std::optional<TcpState> freebsd_state(const std::string& n) {
  if (n == "CLOSED") return TcpState::closed;
  if (n == "LISTEN") return TcpState::listen;
  if (n == "SYN_SENT") return TcpState::syn_sent;
  if (n == "SYN_RCVD") return TcpState::syn_received;
  if (n == "ESTABLISHED") return TcpState::established;
  if (n == "CLOSE_WAIT") return TcpState::close_wait;
  if (n == "FIN_WAIT_1") return TcpState::fin_wait_1;
  if (n == "CLOSING") return TcpState::closing;
  if (n == "LAST_ACK") return TcpState::last_ack;
  if (n == "FIN_WAIT_2") return TcpState::fin_wait_2;
  if (n == "TIME_WAIT") return TcpState::time_wait;
  return std::nullopt;
}

ShellCommandKind classify_shell(const Profile& p, const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\n')) t.pop_back();
  if (!p.freebsd_shell) {
    return UnsupportedCommand{fmt::format("profile {} runs no shell commands: `{}`", p.name, t)};
  }
  const auto stages = split(t, '|');
  const auto first = words(stages[0]);
  if (first.empty()) return UnsupportedCommand{"empty shell command"};
  if (first[0] == "sysctl" && stages.size() == 1 && first.size() == 3 && first[1] == "-w") {
    const auto eq = first[2].find('=');
    if (eq == std::string::npos) return UnsupportedCommand{fmt::format("sysctl without a value: `{}`", t)};
    try {
      std::size_t used = 0;
      const std::string v = first[2].substr(eq + 1);
      const std::int64_t value = std::stoll(v, &used, 0);
      if (used != v.size()) throw std::invalid_argument(v);
      return SysctlCommand{first[2].substr(0, eq), value};
    } catch (const std::exception&) {
      return UnsupportedCommand{fmt::format("sysctl with a non-numeric value: `{}`", t)};
    }
  }
  if (first[0] == "tcpdrop" && stages.size() == 1 && first.size() == 3 && first[1] == "-s") {
    if (auto s = freebsd_state(first[2])) return TcpdropCommand{*s};
    return UnsupportedCommand{fmt::format("tcpdrop of an unknown state: `{}`", t)};
  }
  if (first[0] == "sockstat") {
    SockstatCommand c;
    for (std::size_t i = 1; i < first.size(); ++i) {
      const std::string& a = first[i];
      if (a == "-6") return UnsupportedCommand{"sockstat -6: synfin has no IPv6"};
      if (a == "-4" || a == "-s") continue;
      if (a == "-P" && i + 1 < first.size() && first[i + 1] == "tcp") {
        ++i;
        continue;
      }
      if (a == "-p" && i + 1 < first.size()) {
        c.port = static_cast<std::uint16_t>(std::stoul(first[++i]));
        continue;
      }
      return UnsupportedCommand{fmt::format("sockstat option {} not emulated: `{}`", a, t)};
    }
    bool have_state = false, have_count = false;
    for (std::size_t s = 1; s < stages.size(); ++s) {
      const auto w = words(stages[s]);
      if (w.size() == 2 && w[0] == "grep" && w[1] == "packetdril") continue;  // our own sockets
      if (w.size() == 3 && w[0] == "grep" && w[1] == "-c" && !have_state) {
        auto st = freebsd_state(w[2]);
        if (!st) return UnsupportedCommand{fmt::format("sockstat of an unknown state: `{}`", t)};
        c.state = *st;
        have_state = true;
        continue;
      }
      if (w.size() == 2 && w[0] == "grep" && have_state && !have_count &&
          w[1].find_first_not_of("0123456789") == std::string::npos) {
        c.expected_count = std::stoull(w[1]);
        have_count = true;
        continue;
      }
      return UnsupportedCommand{fmt::format("sockstat pipeline not emulated: `{}`", t)};
    }
    if (!have_state || !have_count) return UnsupportedCommand{fmt::format("sockstat pipeline not emulated: `{}`", t)};
    return c;
  }
  return UnsupportedCommand{fmt::format("shell command not emulated: `{}`", t)};
}

std::optional<std::string> apply_sysctl(const Profile& p, StackConfig& cfg, const std::string& name,
                                        std::int64_t value) {
  if (name == "net.inet.tcp.hostcache.purgenow") return std::nullopt;  // a fresh stack has none
  for (const SysctlRule& r : sysctl_rules()) {
    if (name != r.name) continue;
    if (r.apply) return r.apply(cfg.tcp, value);
    if (value == r.freebsd_default) return std::nullopt;
    return fmt::format("sysctl {}={} (FreeBSD default {}): synfin has no knob for {}", name, value,
                       r.freebsd_default, r.missing);
  }
  (void)p;
  return fmt::format("sysctl {} is not emulated", name);
}

}  // namespace synfin::pkt

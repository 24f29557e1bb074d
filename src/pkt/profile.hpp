// Profiles for the script runner: which configuration synfin runs a script with, and how the
// script's host-specific lines (FreeBSD sysctls, sockstat, tcpdrop) map onto synfin.
//
// A profile changes configuration only (StackConfig, the runner's addresses and constants),
// never protocol logic. `freebsd` stands for a FreeBSD host with its default sysctls, the
// host the FreeBSD TCP suite was written against; `synfin` is synfin's own defaults, for the
// scripts in tests/scripts/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "synfin/stack.hpp"
#include "synfin/tcp_state.hpp"

namespace synfin::pkt {

struct Profile {
  std::string name;
  StackConfig stack;
  // Names for #ifdef sections.
  std::vector<std::string> defines;
  // packetdrill's addresses and ports: synfin is the local host, the script the remote one.
  Ipv4Addr local_addr = Ipv4Addr::of(192, 168, 0, 1);
  Ipv4Addr remote_addr = Ipv4Addr::of(192, 0, 2, 1);
  std::uint8_t prefix_len = 24;
  std::uint16_t mtu = 1500;
  std::uint16_t bind_port = 8080;     // bind() takes this port
  std::uint16_t connect_port = 8080;  // connect() goes to this port of the remote host
  std::uint16_t remote_port = 47321;  // the remote host's port for passive connections
  // fcntl(F_GETFL) flag values of the host the scripts were written for.
  int o_rdwr = 0x2;
  int o_nonblock = 0x4;
  // packetdrill's default tolerance when a script sets none.
  std::int64_t tolerance_us = 4000;
  // Shell lines (sysctl, sockstat, tcpdrop) are understood only for a profile that emulates
  // a host with those commands.
  bool freebsd_shell = false;
  // A packet synfin sent that no outbound line matched by the end of the script fails it.
  // packetdrill only notices such a packet when a later outbound line meets it, and the
  // FreeBSD scripts were written under that rule, so the freebsd profile reports trailing
  // packets as warnings instead.
  bool strict_end = true;
};

// The profiles by name: "freebsd", "synfin". nullopt for an unknown name.
std::optional<Profile> profile_by_name(const std::string& name);
std::vector<std::string> profile_names();

// A shell line, as far as the runner understands it.
struct SysctlCommand {
  std::string name;
  std::int64_t value = 0;
};
struct SockstatCommand {
  TcpState state = TcpState::closed;
  std::uint64_t expected_count = 0;
  std::optional<std::uint16_t> port;  // -p PORT
};
struct TcpdropCommand {
  TcpState state = TcpState::closed;
};
struct UnsupportedCommand {
  std::string reason;
};
using ShellCommandKind = std::variant<SysctlCommand, SockstatCommand, TcpdropCommand, UnsupportedCommand>;

ShellCommandKind classify_shell(const Profile& p, const std::string& text);

// Applies a sysctl to a configuration (the profile's host defaults included). Returns why it
// cannot be honoured, or nullopt when `cfg` now behaves as the sysctl asks.
std::optional<std::string> apply_sysctl(const Profile& p, StackConfig& cfg, const std::string& name,
                                        std::int64_t value);

// Whether two configurations agree in every field a sysctl can set.
bool sysctl_fields_equal(const TcpConfig& a, const TcpConfig& b);

// FreeBSD's state names ("SYN_RCVD", "TIME_WAIT").
std::optional<TcpState> freebsd_state(const std::string& name);

}  // namespace synfin::pkt

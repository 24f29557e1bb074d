// A parsed packetdrill script: header options and a list of timed events (packets in and
// out, system calls, shell commands, code assertions). Values are kept as the script wrote
// them; mapping onto live sequence numbers, ports and time happens in the interpreter.
//
// The language is packetdrill's (github.com/google/packetdrill), in the subset the FreeBSD
// TCP test suite uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace synfin::pkt {

// When an event happens. Times are in microseconds. A relative time counts from the moment
// the previous event completed; `*` matches any time.
enum class TimeKind : std::uint8_t { absolute, relative, any };

struct TimeSpec {
  TimeKind kind = TimeKind::absolute;
  std::int64_t start_us = 0;
  // A range `a~b`: the event may happen anywhere in it.
  std::optional<std::int64_t> range_end_us;
  // A blocking system call `a...b`: it starts at a and returns at b (b relative to a when
  // written with a leading '+').
  std::optional<std::int64_t> blocking_end_us;
  bool blocking_end_relative = false;
};

// One TCP option as written between < and >.
struct TcpOptionSpec {
  enum class Kind : std::uint8_t { eol, nop, mss, wscale, sack_permitted, sack, timestamp,
                                   fast_open, md5 };
  Kind kind = Kind::nop;
  std::uint32_t value = 0;   // mss, wscale, TS val
  std::uint32_t value2 = 0;  // TS ecr
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack_blocks;
  std::vector<std::uint8_t> cookie;  // FO cookie bytes (empty: a cookie request)
};

// IP-level details written before the TCP part: `(ttl 64)`, `(tos 0x..)`, `[ect0]`.
struct IpSpec {
  std::optional<std::uint8_t> ttl;
  std::optional<std::uint8_t> tos;
  // ECN codepoint: nullopt when the script says nothing (outbound: must be not-ECT).
  std::optional<std::uint8_t> ecn;
  bool ecn_any_ect = false;  // [ect01]
};

struct TcpPacketSpec {
  bool inbound = true;  // '<': the script's remote host sends it; '>': synfin must send it
  IpSpec ip;
  std::string flags;    // "S", "S.", ".", "F.", "R", "P.", "SEW" ...
  std::uint32_t seq = 0;
  std::uint32_t seq_end = 0;
  std::uint32_t length = 0;
  bool any_seq = false;  // `...(len)`: the sequence number is not checked
  std::optional<std::uint32_t> ack;
  std::optional<std::uint32_t> window;  // outbound without `win`: the window is not checked
  std::optional<std::uint16_t> urgent;
  // Options: nullopt with options_wildcard false means "no options"; `<...>` means any.
  bool options_wildcard = false;
  std::vector<TcpOptionSpec> options;
};

struct IcmpPacketSpec {
  bool inbound = true;
  std::string type;  // "unreachable", "time_exceeded", ...
  std::string code;  // "port_unreachable", ...; empty: code 0
  std::optional<std::uint32_t> mtu;
  // The quoted TCP segment's sequence range, in the script's sequence space.
  std::uint32_t seq = 0;
  std::uint32_t seq_end = 0;
  std::uint32_t length = 0;
};

// An argument or return value of a system call.
struct Expr {
  enum class Kind : std::uint8_t { ellipsis, integer, identifier, string, list, bit_or, structure,
                                   assignment };
  Kind kind = Kind::ellipsis;
  std::int64_t number = 0;
  std::string text;           // identifier, string, or the field name of an assignment
  std::vector<Expr> items;    // list elements, | operands, struct fields, assignment value

  static Expr ellipsis() { return Expr{}; }
  static Expr integer(std::int64_t v) {
    Expr e;
    e.kind = Kind::integer;
    e.number = v;
    return e;
  }
  static Expr identifier(std::string s) {
    Expr e;
    e.kind = Kind::identifier;
    e.text = std::move(s);
    return e;
  }
  std::string to_string() const;
};

struct SyscallSpec {
  std::string name;
  std::vector<Expr> args;
  Expr result;
  std::string errno_name;  // empty when none is expected
};

struct ShellCommand {
  std::string text;
};

struct CodeBlock {
  std::string text;
};

struct Event {
  int line = 0;
  TimeSpec time;
  std::variant<TcpPacketSpec, IcmpPacketSpec, SyscallSpec, ShellCommand, CodeBlock> body;
  std::string source;  // the event's text as written, for messages
};

struct Script {
  std::string path;
  // `--name=value` header lines, in order.
  std::vector<std::pair<std::string, std::string>> options;
  std::vector<Event> events;
};

}  // namespace synfin::pkt

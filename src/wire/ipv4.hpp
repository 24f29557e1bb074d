// IPv4 header (RFC 791): parse and validate, and build. Fragments are recognised and dropped
// until reassembly exists. Options are kept as bytes and otherwise ignored (RFC 9293 MUST-50).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "synfin/drop_reason.hpp"
#include "synfin/result.hpp"

namespace synfin::wire {

// An IPv4 address in host order.
struct Ipv4Addr {
  std::uint32_t value = 0;

  static constexpr Ipv4Addr of(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return Ipv4Addr{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) |
                    std::uint32_t{d}};
  }
  static Result<Ipv4Addr, int> parse(std::string_view text);

  constexpr bool is_unspecified() const { return value == 0; }
  constexpr bool is_broadcast() const { return value == 0xffffffffu; }
  constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
  constexpr bool is_loopback() const { return (value >> 24) == 127; }
  std::string to_string() const;

  friend constexpr bool operator==(Ipv4Addr, Ipv4Addr) = default;
  friend constexpr auto operator<=>(Ipv4Addr, Ipv4Addr) = default;
};

namespace ip_proto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
}  // namespace ip_proto

inline constexpr std::size_t kIpv4MinHeader = 20;

struct Ipv4Header {
  std::uint8_t tos = 0;  // DSCP (upper six bits) and ECN (lower two)
  std::uint16_t total_length = 0;
  std::uint16_t id = 0;
  bool dont_fragment = true;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // in 8-byte units
  std::uint8_t ttl = 64;
  std::uint8_t protocol = ip_proto::tcp;
  Ipv4Addr src;
  Ipv4Addr dst;
  std::uint8_t header_length = kIpv4MinHeader;  // bytes, options included
};

struct Ipv4Packet {
  Ipv4Header header;
  std::span<const std::uint8_t> options;
  std::span<const std::uint8_t> payload;
};

// Validates version, header length, total length against the buffer (trailing link padding
// is allowed and cut off), and the header checksum. Fragments give DropReason::ip_fragment.
Result<Ipv4Packet, DropReason> parse_ipv4(std::span<const std::uint8_t> bytes);

// Writes a 20-byte header (no options) with its checksum. `out` must hold 20 bytes.
void write_ipv4_header(std::span<std::uint8_t> out, const Ipv4Header& h);

}  // namespace synfin::wire

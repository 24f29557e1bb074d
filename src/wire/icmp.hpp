// ICMP for IPv4 (RFC 792, RFC 1191): echo, and the errors TCP acts on (RFC 9293 section
// 3.9.2.2, RFC 5927). An error carries the IP header and the first 8 bytes of the datagram
// that caused it: enough for the TCP ports and sequence number.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "synfin/drop_reason.hpp"
#include "synfin/result.hpp"
#include "wire/ipv4.hpp"
#include "wire/seq.hpp"

namespace synfin::wire {

namespace icmp_type {
inline constexpr std::uint8_t echo_reply = 0;
inline constexpr std::uint8_t dest_unreachable = 3;
inline constexpr std::uint8_t source_quench = 4;
inline constexpr std::uint8_t echo_request = 8;
inline constexpr std::uint8_t time_exceeded = 11;
inline constexpr std::uint8_t parameter_problem = 12;
}  // namespace icmp_type

struct IcmpMessage {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint32_t rest = 0;  // the 4 bytes after the checksum (echo id/seq, next-hop MTU, ...)
  std::span<const std::uint8_t> body;
};

// Validates the length and checksum.
Result<IcmpMessage, DropReason> parse_icmp(std::span<const std::uint8_t> bytes);

// What an ICMP error says about one of our TCP segments.
struct IcmpTcpError {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t next_hop_mtu = 0;  // type 3 code 4 (RFC 1191)
  Ipv4Addr src;   // the quoted datagram's source: our address
  Ipv4Addr dst;   // ... its destination: the peer
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  Seq seq;
};

// Parses the quoted IP header and TCP prefix of an error message. Fails for messages that
// are not errors, or that quote something other than TCP.
Result<IcmpTcpError, DropReason> parse_icmp_tcp_error(const IcmpMessage& m);

// Builds an ICMP message (header + body) with its checksum.
std::vector<std::uint8_t> build_icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest,
                                     std::span<const std::uint8_t> body);

}  // namespace synfin::wire

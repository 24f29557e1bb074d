// Packets between the script and the stack: TCP options as bytes (packetdrill compares them
// byte for byte), building the IPv4 packets the script's remote host sends (TCP and ICMP
// errors), parsing what the stack sends, and printing both in the script's own notation.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pkt/script.hpp"
#include "synfin/time.hpp"
#include "wire/ipv4.hpp"

namespace synfin::pkt {

// The option bytes a script's option list stands for. Unsupported kinds (md5) give nullopt.
std::optional<std::vector<std::uint8_t>> option_bytes(const std::vector<TcpOptionSpec>& options);

// "mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0" from option bytes; malformed bytes are
// shown as "kind K len L".
std::string options_to_script(std::span<const std::uint8_t> bytes);

// Where the timestamp option's fields sit within option bytes, if there is one.
struct TimestampLocation {
  std::size_t val_offset = 0;  // ecr follows 4 bytes later
};
std::optional<TimestampLocation> find_timestamp(std::span<const std::uint8_t> bytes);
// The SACK blocks' edges within option bytes (offsets of each 32-bit edge).
std::vector<std::size_t> find_sack_edges(std::span<const std::uint8_t> bytes);

std::uint32_t load_be32(std::span<const std::uint8_t> b, std::size_t at);
void store_be32(std::span<std::uint8_t> b, std::size_t at, std::uint32_t v);

// "S." from header flag bits, in packetdrill's notation.
std::string flags_to_script(std::uint8_t flags);
// Flag bits from packetdrill's notation; U (urgent) is accepted too.
std::uint8_t flags_from_script(const std::string& flags);

struct TcpFields {
  wire::Ipv4Addr src;
  wire::Ipv4Addr dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::vector<std::uint8_t> options;  // a multiple of 4 bytes
  std::uint32_t payload_length = 0;   // zero bytes, as packetdrill sends
};

// A complete IPv4 packet with valid checksums.
std::vector<std::uint8_t> build_tcp(const TcpFields& f);

// An ICMP error from `src` to `dst` quoting a TCP segment dst -> src (our own segment as the
// router saw it): IP header and the first 8 bytes of TCP (ports and sequence number).
std::vector<std::uint8_t> build_icmp_error(wire::Ipv4Addr src, wire::Ipv4Addr dst, std::uint8_t type,
                                           std::uint8_t code, std::uint32_t rest,
                                           std::uint16_t quoted_sport, std::uint16_t quoted_dport,
                                           std::uint32_t quoted_seq, std::uint32_t quoted_payload);

// ICMP type and code for packetdrill's names (IPv4 tables). nullopt: unknown name.
struct IcmpKind {
  std::uint8_t type = 0;
  std::uint8_t code = 0;
};
std::optional<IcmpKind> icmp_kind(const std::string& type, const std::string& code);

// A packet the stack sent, parsed.
struct SentPacket {
  Instant at{};
  std::vector<std::uint8_t> bytes;
  wire::Ipv4Header ip;
  bool is_tcp = false;
  TcpFields tcp;  // options as bytes; payload_length set
  std::vector<std::uint8_t> payload;
  std::string error;  // non-empty: the stack sent something that does not parse
};

SentPacket parse_sent(std::span<const std::uint8_t> bytes, Instant at);

// "S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>" (sequence numbers as given).
std::string tcp_to_script(std::uint8_t flags, std::uint32_t seq, std::uint32_t len, std::uint32_t ack,
                          std::uint16_t window, std::span<const std::uint8_t> options,
                          std::uint16_t urgent, std::uint8_t ecn);

}  // namespace synfin::pkt

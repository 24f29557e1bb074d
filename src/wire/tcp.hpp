// The TCP header (RFC 9293 section 3.1) and its options: a zero-copy view over bytes, a
// validated value, and a writer that emits options in a configurable order.
//
// Options understood: EOL, NOP, MSS (RFC 9293), window scale and timestamps (RFC 7323),
// SACK-permitted and SACK (RFC 2018), Fast Open cookie (RFC 7413). Unknown kinds are
// skipped by their length (MUST-6); a length of 0 or 1 or one running past the header drops
// the segment (MUST-7). A known kind with a length it cannot have is ignored, as Linux does.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "synfin/drop_reason.hpp"
#include "synfin/result.hpp"
#include "wire/seq.hpp"

namespace synfin::wire {

namespace tcp_flag {
inline constexpr std::uint8_t FIN = 0x01;
inline constexpr std::uint8_t SYN = 0x02;
inline constexpr std::uint8_t RST = 0x04;
inline constexpr std::uint8_t PSH = 0x08;
inline constexpr std::uint8_t ACK = 0x10;
inline constexpr std::uint8_t URG = 0x20;
inline constexpr std::uint8_t ECE = 0x40;
inline constexpr std::uint8_t CWR = 0x80;
}  // namespace tcp_flag

// "SA", "F.", "R." ... in tcpdump's style: S F R P U E W, and "." for ACK.
std::string flags_to_string(std::uint8_t flags);

inline constexpr std::size_t kTcpMinHeader = 20;
inline constexpr std::size_t kTcpMaxHeader = 60;
inline constexpr std::size_t kTcpMaxOptions = 40;

enum class OptionKind : std::uint8_t {
  eol = 0,
  nop = 1,
  mss = 2,
  wscale = 3,
  sack_permitted = 4,
  sack = 5,
  timestamps = 8,
  fastopen = 34,
};

struct SackBlock {
  Seq left;
  Seq right;
  friend constexpr bool operator==(SackBlock, SackBlock) = default;
};

struct TcpOptions {
  bool has_mss = false;
  bool has_wscale = false;
  bool sack_permitted = false;
  bool has_timestamps = false;
  bool has_fastopen = false;   // with fastopen_len == 0: a cookie request
  std::uint8_t wscale = 0;
  std::uint8_t sack_count = 0;  // 0..4 blocks
  std::uint8_t fastopen_len = 0;
  std::uint16_t mss = 0;
  std::uint32_t ts_val = 0;
  std::uint32_t ts_ecr = 0;
  std::array<SackBlock, 4> sack{};
  std::array<std::uint8_t, 16> fastopen_cookie{};

  friend bool operator==(const TcpOptions&, const TcpOptions&) = default;
};

// The order in which options are written, and where each may start: NOPs are inserted
// before an option until its offset modulo `mod` equals `rem`, so that multi-byte values
// stay aligned. The whole is padded to a multiple of four bytes with zeros (an EOL and zero
// fill, MUST-69).
struct OptionPlacement {
  OptionKind kind = OptionKind::eol;
  std::uint8_t mod = 1;
  std::uint8_t rem = 0;
};

struct OptionLayout {
  std::array<OptionPlacement, 8> items{};
  std::uint8_t count = 0;

  static constexpr OptionLayout of(std::initializer_list<OptionPlacement> placements) {
    OptionLayout l;
    for (OptionPlacement p : placements) {
      if (l.count < l.items.size()) l.items[l.count++] = p;
    }
    return l;
  }
};

// MSS first, window scale at an odd offset (NOP before it), SACK-permitted at an even one,
// timestamps and SACK blocks with their 32-bit values aligned (NOP NOP before them), Fast
// Open last. This is also FreeBSD's choice: <mss,nop,wscale,sackOK,TS>.
inline constexpr OptionLayout kDefaultLayout = OptionLayout::of({
    {OptionKind::mss, 1, 0},
    {OptionKind::wscale, 2, 1},
    {OptionKind::sack_permitted, 2, 0},
    {OptionKind::timestamps, 4, 2},
    {OptionKind::sack, 4, 2},
    {OptionKind::fastopen, 2, 0},
});

// Bytes the options take on the wire under `layout`, padding included (a multiple of 4).
std::size_t options_wire_length(const TcpOptions& o, const OptionLayout& layout);
// Writes the options; returns the padded length. `out` must hold options_wire_length bytes.
std::size_t write_options(std::span<std::uint8_t> out, const TcpOptions& o,
                          const OptionLayout& layout);

// Parses the option bytes of a header. Fails only on a malformed length (MUST-7).
Result<TcpOptions, DropReason> parse_options(std::span<const std::uint8_t> bytes);

// A zero-copy view of a TCP header that has passed the length checks of parse_tcp.
class TcpHeaderView {
 public:
  explicit TcpHeaderView(std::span<const std::uint8_t> segment) : b_(segment) {}
  std::uint16_t src_port() const;
  std::uint16_t dst_port() const;
  Seq seq() const;
  Seq ack() const;
  std::size_t header_length() const { return static_cast<std::size_t>(b_[12] >> 4) * 4; }
  std::uint8_t flags() const { return b_[13]; }
  std::uint16_t window() const;
  std::uint16_t checksum() const;
  std::uint16_t urgent() const;
  std::span<const std::uint8_t> option_bytes() const {
    return b_.subspan(kTcpMinHeader, header_length() - kTcpMinHeader);
  }
  std::span<const std::uint8_t> payload() const { return b_.subspan(header_length()); }

 private:
  std::span<const std::uint8_t> b_;
};

// A validated segment. The payload points into the buffer it was parsed from.
struct TcpSegment {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  Seq seq;
  Seq ack;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  std::uint8_t header_length = kTcpMinHeader;
  TcpOptions options;
  std::span<const std::uint8_t> payload;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
  bool syn() const { return has(tcp_flag::SYN); }
  bool fin() const { return has(tcp_flag::FIN); }
  bool rst() const { return has(tcp_flag::RST); }
  bool ack_flag() const { return has(tcp_flag::ACK); }
  bool urg() const { return has(tcp_flag::URG); }
  // SEG.LEN: octets of data plus one for SYN and one for FIN.
  std::uint32_t seg_len() const {
    return static_cast<std::uint32_t>(payload.size()) + (syn() ? 1u : 0u) + (fin() ? 1u : 0u);
  }
};

// Checksum context for parse_tcp: the pseudo-header sum of the IP layer, or none to skip the
// check (a device that verified it already).
struct PseudoHeaderV4 {
  std::uint32_t src = 0;
  std::uint32_t dst = 0;
};

// Validates lengths, data offset, options and (when `ph` is given) the checksum.
Result<TcpSegment, DropReason> parse_tcp(std::span<const std::uint8_t> bytes,
                                         const PseudoHeaderV4* ph);

// Header fields to write. The checksum field is written as zero by write_tcp_header.
struct TcpHeaderFields {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  Seq seq;
  Seq ack;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
};

// Writes header and options; returns the header length. `out` must hold 60 bytes.
std::size_t write_tcp_header(std::span<std::uint8_t> out, const TcpHeaderFields& f,
                             const TcpOptions& o, const OptionLayout& layout);

// Fills in the checksum of a complete TCP segment (header + payload) over IPv4.
void finish_tcp_checksum_v4(std::span<std::uint8_t> segment, std::uint32_t src, std::uint32_t dst);

// "mss 1460,nop,wscale 7,sackOK,TS val 1 ecr 0" in tcpdump's style.
std::string options_to_string(const TcpOptions& o);

}  // namespace synfin::wire

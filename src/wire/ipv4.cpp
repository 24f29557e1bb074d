// IPv4 parsing and building. See ipv4.hpp.
#include "wire/ipv4.hpp"

#include <charconv>

#include <fmt/format.h>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace synfin::wire {

Result<Ipv4Addr, int> Ipv4Addr::parse(std::string_view text) {
  std::uint32_t v = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    unsigned octet = 256;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc{} || octet > 255 || next == p || next - p > 3) return fail(0);
    // A leading zero ("010") reads as octal to inet_aton and as decimal here: refuse the
    // ambiguity, as inet_pton does.
    if (next - p > 1 && *p == '0') return fail(0);
    v = (v << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return fail(0);
      ++p;
    }
  }
  if (p != end) return fail(0);
  return Ipv4Addr{v};
}

std::string Ipv4Addr::to_string() const {
  return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff,
                     value & 0xff);
}

Result<Ipv4Packet, DropReason> parse_ipv4(std::span<const std::uint8_t> b) {
  if (b.size() < kIpv4MinHeader) return fail(DropReason::ip_truncated);
  if ((b[0] >> 4) != 4) return fail(DropReason::ip_bad_version);
  const std::size_t ihl = static_cast<std::size_t>(b[0] & 0x0f) * 4;
  if (ihl < kIpv4MinHeader || ihl > b.size()) return fail(DropReason::ip_bad_header_length);
  const std::uint16_t total = load_be16(&b[2]);
  if (total < ihl || total > b.size()) return fail(DropReason::ip_bad_total_length);
  if (internet_checksum(b.first(ihl)) != 0) return fail(DropReason::ip_bad_checksum);

  Ipv4Packet p;
  Ipv4Header& h = p.header;
  h.tos = b[1];
  h.total_length = total;
  h.id = load_be16(&b[4]);
  const std::uint16_t frag = load_be16(&b[6]);
  h.dont_fragment = (frag & 0x4000) != 0;
  h.more_fragments = (frag & 0x2000) != 0;
  h.fragment_offset = frag & 0x1fff;
  h.ttl = b[8];
  h.protocol = b[9];
  h.src = Ipv4Addr{load_be32(&b[12])};
  h.dst = Ipv4Addr{load_be32(&b[16])};
  h.header_length = static_cast<std::uint8_t>(ihl);
  if (h.more_fragments || h.fragment_offset != 0) return fail(DropReason::ip_fragment);
  p.options = b.subspan(kIpv4MinHeader, ihl - kIpv4MinHeader);
  p.payload = b.subspan(ihl, total - ihl);
  return p;
}

void write_ipv4_header(std::span<std::uint8_t> out, const Ipv4Header& h) {
  std::uint8_t* p = out.data();
  p[0] = 0x45;
  p[1] = h.tos;
  store_be16(p + 2, h.total_length);
  store_be16(p + 4, h.id);
  std::uint16_t frag = h.fragment_offset & 0x1fff;
  if (h.dont_fragment) frag |= 0x4000;
  if (h.more_fragments) frag |= 0x2000;
  store_be16(p + 6, frag);
  p[8] = h.ttl;
  p[9] = h.protocol;
  store_be32(p + 12, h.src.value);
  store_be32(p + 16, h.dst.value);
  // The checksum from the field values, not from the bytes just stored (reading them back at
  // once stalls on store forwarding). The same sum of the ten 16-bit words, checksum zero.
  std::uint32_t sum = (0x45u << 8 | h.tos) + h.total_length + h.id + frag + (std::uint32_t{h.ttl} << 8 | h.protocol) +
                      (h.src.value >> 16) + (h.src.value & 0xffffu) + (h.dst.value >> 16) + (h.dst.value & 0xffffu);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  store_be16(p + 10, static_cast<std::uint16_t>(~sum));
}

}  // namespace synfin::wire

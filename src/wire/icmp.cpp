// ICMP parsing and building. See icmp.hpp.
#include "wire/icmp.hpp"

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace synfin::wire {

Result<IcmpMessage, DropReason> parse_icmp(std::span<const std::uint8_t> b) {
  if (b.size() < 8) return fail(DropReason::icmp_malformed);
  if (internet_checksum(b) != 0) return fail(DropReason::icmp_malformed);
  IcmpMessage m;
  m.type = b[0];
  m.code = b[1];
  m.rest = load_be32(&b[4]);
  m.body = b.subspan(8);
  return m;
}

Result<IcmpTcpError, DropReason> parse_icmp_tcp_error(const IcmpMessage& m) {
  if (m.type != icmp_type::dest_unreachable && m.type != icmp_type::time_exceeded &&
      m.type != icmp_type::parameter_problem && m.type != icmp_type::source_quench) {
    return fail(DropReason::icmp_malformed);
  }
  const auto& q = m.body;
  if (q.size() < kIpv4MinHeader || (q[0] >> 4) != 4) return fail(DropReason::icmp_malformed);
  const std::size_t ihl = static_cast<std::size_t>(q[0] & 0x0f) * 4;
  if (ihl < kIpv4MinHeader || q.size() < ihl + 8) return fail(DropReason::icmp_malformed);
  if (q[9] != ip_proto::tcp) return fail(DropReason::icmp_malformed);
  IcmpTcpError e;
  e.type = m.type;
  e.code = m.code;
  if (m.type == icmp_type::dest_unreachable && m.code == 4) {
    e.next_hop_mtu = static_cast<std::uint16_t>(m.rest & 0xffff);
  }
  e.src = Ipv4Addr{load_be32(&q[12])};
  e.dst = Ipv4Addr{load_be32(&q[16])};
  e.src_port = load_be16(&q[ihl]);
  e.dst_port = load_be16(&q[ihl + 2]);
  e.seq = Seq{load_be32(&q[ihl + 4])};
  return e;
}

std::vector<std::uint8_t> build_icmp(std::uint8_t type, std::uint8_t code, std::uint32_t rest,
                                     std::span<const std::uint8_t> body) {
  std::vector<std::uint8_t> out(8 + body.size());
  out[0] = type;
  out[1] = code;
  store_be32(&out[4], rest);
  std::copy(body.begin(), body.end(), out.begin() + 8);
  store_be16(&out[2], internet_checksum(out));
  return out;
}

}  // namespace synfin::wire

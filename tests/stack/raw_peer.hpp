// A raw peer for stack tests: builds IPv4 packets (TCP or ICMP) to inject into a Stack, and
// collects and parses what the stack sends back.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "synfin/stack.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace synfin::test {

using namespace std::chrono_literals;
namespace flag = wire::tcp_flag;

struct RawTcp {
  Ipv4Addr src = Ipv4Addr::of(10, 0, 0, 2);
  Ipv4Addr dst = Ipv4Addr::of(10, 0, 0, 1);
  std::uint16_t sport = 5555;
  std::uint16_t dport = 80;
  std::uint32_t seq = 1000;
  std::uint32_t ack = 0;
  std::uint8_t flags = flag::SYN;
  std::uint16_t win = 65535;
  std::string data;
  std::optional<std::uint16_t> mss;
  std::uint8_t ttl = 64;
  std::vector<std::uint8_t> ip_options;  // multiple of 4 bytes
  bool bad_checksum = false;
};

inline std::vector<std::uint8_t> build_tcp_packet(const RawTcp& r) {
  wire::TcpHeaderFields f{r.sport, r.dport, wire::Seq{r.seq}, wire::Seq{r.ack}, r.flags, r.win, 0};
  wire::TcpOptions o;
  if (r.mss) {
    o.has_mss = true;
    o.mss = *r.mss;
  }
  const std::size_t ihl = 20 + r.ip_options.size();
  std::vector<std::uint8_t> p(ihl + wire::kTcpMaxHeader + r.data.size());
  std::span<std::uint8_t> tcp(p.data() + ihl, p.size() - ihl);
  const std::size_t hl = wire::write_tcp_header(tcp, f, o, wire::kDefaultLayout);
  std::copy(r.data.begin(), r.data.end(), p.begin() + static_cast<std::ptrdiff_t>(ihl + hl));
  p.resize(ihl + hl + r.data.size());
  wire::finish_tcp_checksum_v4(std::span<std::uint8_t>(p.data() + ihl, hl + r.data.size()), r.src.value,
                               r.dst.value);
  if (r.bad_checksum) p[ihl + 16] ^= 0x01;
  wire::Ipv4Header h;
  h.src = r.src;
  h.dst = r.dst;
  h.ttl = r.ttl;
  h.total_length = static_cast<std::uint16_t>(p.size());
  wire::write_ipv4_header(p, h);
  if (!r.ip_options.empty()) {
    p[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
    std::copy(r.ip_options.begin(), r.ip_options.end(), p.begin() + 20);
    p[10] = p[11] = 0;
    const std::uint16_t c = wire::internet_checksum(std::span<const std::uint8_t>(p.data(), ihl));
    p[10] = static_cast<std::uint8_t>(c >> 8);
    p[11] = static_cast<std::uint8_t>(c);
  }
  return p;
}

inline std::vector<std::uint8_t> build_icmp_packet(Ipv4Addr src, Ipv4Addr dst, std::uint8_t type,
                                                   std::uint8_t code, std::uint32_t rest,
                                                   std::span<const std::uint8_t> body) {
  const auto icmp = wire::build_icmp(type, code, rest, body);
  std::vector<std::uint8_t> p(20 + icmp.size());
  std::copy(icmp.begin(), icmp.end(), p.begin() + 20);
  wire::Ipv4Header h;
  h.src = src;
  h.dst = dst;
  h.protocol = wire::ip_proto::icmp;
  h.total_length = static_cast<std::uint16_t>(p.size());
  wire::write_ipv4_header(p, h);
  return p;
}

// What a stack sent, parsed.
struct Captured {
  wire::Ipv4Header ip;
  std::vector<std::uint8_t> bytes;
  std::optional<wire::TcpSegment> tcp;
  std::vector<std::uint8_t> payload;
  std::optional<wire::IcmpMessage> icmp;
};

class Collector : public PacketSink {
 public:
  void send_packet(std::span<const std::uint8_t> p, Instant) override {
    Captured c;
    c.bytes.assign(p.begin(), p.end());
    auto ip = wire::parse_ipv4(c.bytes);
    if (!ip) {
      ADD_FAILURE() << "stack sent an invalid IPv4 packet: " << to_string(ip.error());
      return;
    }
    c.ip = ip->header;
    if (ip->header.protocol == wire::ip_proto::tcp) {
      wire::PseudoHeaderV4 ph{ip->header.src.value, ip->header.dst.value};
      auto t = wire::parse_tcp(ip->payload, &ph);
      if (!t) {
        ADD_FAILURE() << "stack sent an invalid TCP segment: " << to_string(t.error());
        return;
      }
      c.tcp = *t;
      c.payload.assign(t->payload.begin(), t->payload.end());
      c.tcp->payload = {};  // points into c.bytes of a temporary; use c.payload
    } else if (ip->header.protocol == wire::ip_proto::icmp) {
      auto m = wire::parse_icmp(ip->payload);
      if (!m) {
        ADD_FAILURE() << "stack sent an invalid ICMP message";
        return;
      }
      c.icmp = *m;
      c.payload.assign(m->body.begin(), m->body.end());
      c.icmp->body = {};
    }
    packets.push_back(std::move(c));
  }
  std::vector<Captured> packets;
};

// Drains the stack's transmit queue into a fresh collector.
inline std::vector<Captured> sent_by(Stack& s, Instant now) {
  Collector c;
  s.transmit(c, now);
  return std::move(c.packets);
}

inline StackConfig test_config(const char* name = "test", std::uint64_t seed = 1) {
  StackConfig c;
  c.name = name;
  c.seed = seed;
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(i + seed);
  return c;
}

}  // namespace synfin::test

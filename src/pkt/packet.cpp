// Packets between the script and the stack; see packet.hpp. TCP options are handled as raw
// bytes here on purpose: a script says exactly which bytes it expects (NOPs, EOL padding and
// all), so they are neither normalised nor reordered.
#include "pkt/packet.hpp"

#include <fmt/format.h>

#include "wire/checksum.hpp"
#include "wire/icmp.hpp"
#include "wire/tcp.hpp"

namespace synfin::pkt {

std::uint32_t load_be32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) |
         std::uint32_t{b[at + 3]};
}

void store_be32(std::span<std::uint8_t> b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 24);
  b[at + 1] = static_cast<std::uint8_t>(v >> 16);
  b[at + 2] = static_cast<std::uint8_t>(v >> 8);
  b[at + 3] = static_cast<std::uint8_t>(v);
}

std::optional<std::vector<std::uint8_t>> option_bytes(const std::vector<TcpOptionSpec>& options) {
  std::vector<std::uint8_t> b;
  auto be16 = [&](std::uint32_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
  };
  auto be32 = [&](std::uint32_t v) {
    be16(v >> 16);
    be16(v & 0xffff);
  };
  using K = TcpOptionSpec::Kind;
  for (const TcpOptionSpec& o : options) {
    switch (o.kind) {
      case K::eol: b.push_back(0); break;
      case K::nop: b.push_back(1); break;
      case K::mss:
        b.insert(b.end(), {2, 4});
        be16(o.value);
        break;
      case K::wscale:
        b.insert(b.end(), {3, 3, static_cast<std::uint8_t>(o.value)});
        break;
      case K::sack_permitted: b.insert(b.end(), {4, 2}); break;
      case K::sack:
        b.push_back(5);
        b.push_back(static_cast<std::uint8_t>(2 + 8 * o.sack_blocks.size()));
        for (auto [l, r] : o.sack_blocks) {
          be32(l);
          be32(r);
        }
        break;
      case K::timestamp:
        b.insert(b.end(), {8, 10});
        be32(o.value);
        be32(o.value2);
        break;
      case K::fast_open:
        b.push_back(34);
        b.push_back(static_cast<std::uint8_t>(2 + o.cookie.size()));
        b.insert(b.end(), o.cookie.begin(), o.cookie.end());
        break;
      case K::md5: return std::nullopt;
    }
  }
  return b;
}

std::string options_to_script(std::span<const std::uint8_t> b) {
  std::string s;
  auto add = [&](const std::string& x) {
    if (!s.empty()) s += ",";
    s += x;
  };
  std::size_t i = 0;
  while (i < b.size()) {
    const std::uint8_t kind = b[i];
    if (kind == 0) {
      add("eol");
      ++i;
      continue;
    }
    if (kind == 1) {
      add("nop");
      ++i;
      continue;
    }
    if (i + 1 >= b.size() || b[i + 1] < 2 || i + b[i + 1] > b.size()) {
      add(fmt::format("kind {} (truncated)", kind));
      break;
    }
    const std::size_t len = b[i + 1];
    if (kind == 2 && len == 4) {
      add(fmt::format("mss {}", (b[i + 2] << 8) | b[i + 3]));
    } else if (kind == 3 && len == 3) {
      add(fmt::format("wscale {}", b[i + 2]));
    } else if (kind == 4 && len == 2) {
      add("sackOK");
    } else if (kind == 5 && len >= 2 && (len - 2) % 8 == 0) {
      std::string blocks = "sack";
      for (std::size_t j = i + 2; j + 8 <= i + len; j += 8)
        blocks += fmt::format(" {}:{}", load_be32(b, j), load_be32(b, j + 4));
      add(blocks);
    } else if (kind == 8 && len == 10) {
      add(fmt::format("TS val {} ecr {}", load_be32(b, i + 2), load_be32(b, i + 6)));
    } else if (kind == 34) {
      std::string c = "FO";
      if (len > 2) c += " ";
      for (std::size_t j = i + 2; j < i + len; ++j) c += fmt::format("{:02x}", b[j]);
      add(c);
    } else {
      add(fmt::format("kind {} len {}", kind, len));
    }
    i += len;
  }
  return s;
}

std::optional<TimestampLocation> find_timestamp(std::span<const std::uint8_t> b) {
  std::size_t i = 0;
  while (i < b.size()) {
    if (b[i] == 0 || b[i] == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= b.size() || b[i + 1] < 2 || i + b[i + 1] > b.size()) return std::nullopt;
    if (b[i] == 8 && b[i + 1] == 10) return TimestampLocation{i + 2};
    i += b[i + 1];
  }
  return std::nullopt;
}

std::vector<std::size_t> find_sack_edges(std::span<const std::uint8_t> b) {
  std::vector<std::size_t> edges;
  std::size_t i = 0;
  while (i < b.size()) {
    if (b[i] == 0 || b[i] == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= b.size() || b[i + 1] < 2 || i + b[i + 1] > b.size()) break;
    if (b[i] == 5) {
      for (std::size_t j = i + 2; j + 4 <= i + b[i + 1]; j += 4) edges.push_back(j);
    }
    i += b[i + 1];
  }
  return edges;
}

std::string flags_to_script(std::uint8_t f) {
  namespace F = wire::tcp_flag;
  std::string s;
  if (f & F::FIN) s += 'F';
  if (f & F::SYN) s += 'S';
  if (f & F::RST) s += 'R';
  if (f & F::PSH) s += 'P';
  if (f & F::ACK) s += '.';
  if (f & F::URG) s += 'U';
  if (f & F::ECE) s += 'E';
  if (f & F::CWR) s += 'W';
  return s.empty() ? "-" : s;
}

std::uint8_t flags_from_script(const std::string& flags) {
  namespace F = wire::tcp_flag;
  std::uint8_t f = 0;
  for (char c : flags) {
    switch (c) {
      case 'F': f |= F::FIN; break;
      case 'S': f |= F::SYN; break;
      case 'R': f |= F::RST; break;
      case 'P': f |= F::PSH; break;
      case '.': f |= F::ACK; break;
      case 'U': f |= F::URG; break;
      case 'E': f |= F::ECE; break;
      case 'W': f |= F::CWR; break;
      default: break;
    }
  }
  return f;
}

std::vector<std::uint8_t> build_tcp(const TcpFields& f) {
  const std::size_t hl = 20 + f.options.size();
  std::vector<std::uint8_t> p(20 + hl + f.payload_length, 0);
  std::span<std::uint8_t> t(p.data() + 20, hl + f.payload_length);
  t[0] = static_cast<std::uint8_t>(f.src_port >> 8);
  t[1] = static_cast<std::uint8_t>(f.src_port);
  t[2] = static_cast<std::uint8_t>(f.dst_port >> 8);
  t[3] = static_cast<std::uint8_t>(f.dst_port);
  store_be32(t, 4, f.seq);
  store_be32(t, 8, f.ack);
  t[12] = static_cast<std::uint8_t>((hl / 4) << 4);
  t[13] = f.flags;
  t[14] = static_cast<std::uint8_t>(f.window >> 8);
  t[15] = static_cast<std::uint8_t>(f.window);
  t[18] = static_cast<std::uint8_t>(f.urgent >> 8);
  t[19] = static_cast<std::uint8_t>(f.urgent);
  std::copy(f.options.begin(), f.options.end(), t.begin() + 20);
  wire::finish_tcp_checksum_v4(t, f.src.value, f.dst.value);
  wire::Ipv4Header h;
  h.src = f.src;
  h.dst = f.dst;
  h.ttl = f.ttl;
  h.tos = f.tos;
  h.protocol = wire::ip_proto::tcp;
  h.total_length = static_cast<std::uint16_t>(p.size());
  wire::write_ipv4_header(p, h);
  return p;
}

std::vector<std::uint8_t> build_icmp_error(wire::Ipv4Addr src, wire::Ipv4Addr dst, std::uint8_t type,
                                           std::uint8_t code, std::uint32_t rest,
                                           std::uint16_t quoted_sport, std::uint16_t quoted_dport,
                                           std::uint32_t quoted_seq, std::uint32_t quoted_payload) {
  // The quoted datagram went from `dst` (us) to the peer; the router is `src`.
  std::vector<std::uint8_t> quote(28, 0);
  wire::Ipv4Header q;
  q.src = dst;
  q.dst = src;
  q.protocol = wire::ip_proto::tcp;
  q.total_length = static_cast<std::uint16_t>(20 + 20 + quoted_payload);
  wire::write_ipv4_header(quote, q);
  std::span<std::uint8_t> t(quote.data() + 20, 8);
  t[0] = static_cast<std::uint8_t>(quoted_sport >> 8);
  t[1] = static_cast<std::uint8_t>(quoted_sport);
  t[2] = static_cast<std::uint8_t>(quoted_dport >> 8);
  t[3] = static_cast<std::uint8_t>(quoted_dport);
  store_be32(t, 4, quoted_seq);
  const auto icmp = wire::build_icmp(type, code, rest, quote);
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

std::optional<IcmpKind> icmp_kind(const std::string& type, const std::string& code) {
  struct Code {
    const char* name;
    std::uint8_t value;
  };
  static constexpr Code kUnreachable[] = {
      {"net_unreachable", 0},         {"host_unreachable", 1},      {"protocol_unreachable", 2},
      {"port_unreachable", 3},        {"frag_needed", 4},           {"source_route_failed", 5},
      {"net_unknown", 6},             {"host_unknown", 7},          {"source_host_isolated", 8},
      {"net_prohibited", 9},          {"host_prohibited", 10},      {"net_unreachable_for_tos", 11},
      {"host_unreachable_for_tos", 12}, {"packet_filtered", 13},    {"precedence_violation", 14},
      {"precedence_cutoff", 15},
  };
  static constexpr Code kTimeExceeded[] = {{"ttl_exceeded_in_transit", 0}, {"frag_reass_exceeded", 1}};
  IcmpKind k;
  std::span<const Code> codes;
  if (type == "unreachable") {
    k.type = wire::icmp_type::dest_unreachable;
    codes = kUnreachable;
  } else if (type == "time_exceeded") {
    k.type = wire::icmp_type::time_exceeded;
    codes = kTimeExceeded;
  } else if (type == "source_quench") {
    k.type = wire::icmp_type::source_quench;
  } else if (type == "parameter_problem") {
    k.type = wire::icmp_type::parameter_problem;
  } else if (type.starts_with("type_")) {
    k.type = static_cast<std::uint8_t>(std::stoul(type.substr(5)));
  } else {
    return std::nullopt;
  }
  if (code.empty()) return k;
  if (code.starts_with("code_")) {
    k.code = static_cast<std::uint8_t>(std::stoul(code.substr(5)));
    return k;
  }
  for (const Code& c : codes) {
    if (code == c.name) {
      k.code = c.value;
      return k;
    }
  }
  return std::nullopt;
}

SentPacket parse_sent(std::span<const std::uint8_t> bytes, Instant at) {
  SentPacket s;
  s.at = at;
  s.bytes.assign(bytes.begin(), bytes.end());
  auto ip = wire::parse_ipv4(s.bytes);
  if (!ip) {
    s.error = fmt::format("synfin sent an invalid IPv4 packet ({})", to_string(ip.error()));
    return s;
  }
  s.ip = ip->header;
  if (ip->header.protocol != wire::ip_proto::tcp) return s;
  const wire::PseudoHeaderV4 ph{ip->header.src.value, ip->header.dst.value};
  auto seg = wire::parse_tcp(ip->payload, &ph);
  if (!seg) {
    s.error = fmt::format("synfin sent an invalid TCP segment ({})", to_string(seg.error()));
    return s;
  }
  s.is_tcp = true;
  const wire::TcpHeaderView view(ip->payload);
  TcpFields& t = s.tcp;
  t.src = ip->header.src;
  t.dst = ip->header.dst;
  t.src_port = seg->src_port;
  t.dst_port = seg->dst_port;
  t.seq = seg->seq.raw();
  t.ack = seg->ack.raw();
  t.flags = seg->flags;
  t.window = seg->window;
  t.urgent = seg->urgent;
  t.ttl = ip->header.ttl;
  t.tos = ip->header.tos;
  const auto ob = view.option_bytes();
  t.options.assign(ob.begin(), ob.end());
  t.payload_length = static_cast<std::uint32_t>(seg->payload.size());
  s.payload.assign(seg->payload.begin(), seg->payload.end());
  return s;
}

std::string tcp_to_script(std::uint8_t flags, std::uint32_t seq, std::uint32_t len, std::uint32_t ack,
                          std::uint16_t window, std::span<const std::uint8_t> options,
                          std::uint16_t urgent, std::uint8_t ecn) {
  std::string s;
  if (ecn != 0) s += fmt::format("[{}] ", ecn == 1 ? "ect1" : ecn == 2 ? "ect0" : "ce");
  s += fmt::format("{} {}:{}({})", flags_to_script(flags), seq, seq + len, len);
  if (flags & wire::tcp_flag::ACK) s += fmt::format(" ack {}", ack);
  s += fmt::format(" win {}", window);
  if (urgent != 0) s += fmt::format(" urg {}", urgent);
  if (!options.empty()) s += " <" + options_to_script(options) + ">";
  return s;
}

}  // namespace synfin::pkt

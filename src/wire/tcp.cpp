// TCP header and options. See tcp.hpp.
#include "wire/tcp.hpp"

#include <fmt/format.h>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace synfin::wire {

std::string flags_to_string(std::uint8_t f) {
  std::string s;
  if (f & tcp_flag::SYN) s += 'S';
  if (f & tcp_flag::FIN) s += 'F';
  if (f & tcp_flag::RST) s += 'R';
  if (f & tcp_flag::PSH) s += 'P';
  if (f & tcp_flag::URG) s += 'U';
  if (f & tcp_flag::ECE) s += 'E';
  if (f & tcp_flag::CWR) s += 'W';
  if (f & tcp_flag::ACK) s += '.';
  if (s.empty()) s = "none";
  return s;
}

std::uint16_t TcpHeaderView::src_port() const { return load_be16(&b_[0]); }
std::uint16_t TcpHeaderView::dst_port() const { return load_be16(&b_[2]); }
Seq TcpHeaderView::seq() const { return Seq{load_be32(&b_[4])}; }
Seq TcpHeaderView::ack() const { return Seq{load_be32(&b_[8])}; }
std::uint16_t TcpHeaderView::window() const { return load_be16(&b_[14]); }
std::uint16_t TcpHeaderView::checksum() const { return load_be16(&b_[16]); }
std::uint16_t TcpHeaderView::urgent() const { return load_be16(&b_[18]); }

Result<TcpOptions, DropReason> parse_options(std::span<const std::uint8_t> b) {
  TcpOptions o;
  // What nearly every segment of a connection with timestamps carries: NOP, NOP, timestamps
  // (RFC 7323 appendix A). The loop below reads it the same way, only slower.
  if (b.size() == 12 && b[0] == 1 && b[1] == 1 && b[2] == 8 && b[3] == 10) {
    o.has_timestamps = true;
    o.ts_val = load_be32(b.data() + 4);
    o.ts_ecr = load_be32(b.data() + 8);
    return o;
  }
  std::size_t i = 0;
  while (i < b.size()) {
    const auto kind = b[i];
    if (kind == static_cast<std::uint8_t>(OptionKind::eol)) break;
    if (kind == static_cast<std::uint8_t>(OptionKind::nop)) {
      ++i;
      continue;
    }
    // Every other option carries a length byte (MUST-68); a bad one is malformed (MUST-7).
    if (i + 1 >= b.size()) return fail(DropReason::tcp_bad_option_length);
    const std::size_t len = b[i + 1];
    if (len < 2 || i + len > b.size()) return fail(DropReason::tcp_bad_option_length);
    const std::uint8_t* v = b.data() + i + 2;
    switch (static_cast<OptionKind>(kind)) {
      case OptionKind::mss:
        if (len == 4) {
          o.has_mss = true;
          o.mss = load_be16(v);
        }
        break;
      case OptionKind::wscale:
        if (len == 3) {
          o.has_wscale = true;
          o.wscale = v[0];
        }
        break;
      case OptionKind::sack_permitted:
        if (len == 2) o.sack_permitted = true;
        break;
      case OptionKind::timestamps:
        if (len == 10) {
          o.has_timestamps = true;
          o.ts_val = load_be32(v);
          o.ts_ecr = load_be32(v + 4);
        }
        break;
      case OptionKind::sack:
        if (len >= 10 && (len - 2) % 8 == 0 && (len - 2) / 8 <= 4) {
          // A repeated option replaces the earlier one entirely: no blocks of it linger.
          o.sack = {};
          o.sack_count = static_cast<std::uint8_t>((len - 2) / 8);
          for (std::size_t k = 0; k < o.sack_count; ++k) {
            o.sack[k].left = Seq{load_be32(v + 8 * k)};
            o.sack[k].right = Seq{load_be32(v + 8 * k + 4)};
          }
        }
        break;
      case OptionKind::fastopen:
        // RFC 7413: an empty option requests a cookie; a cookie is 4 to 16 bytes, even.
        if (len == 2 || (len >= 6 && len <= 18 && len % 2 == 0)) {
          o.has_fastopen = true;
          o.fastopen_len = static_cast<std::uint8_t>(len - 2);
          o.fastopen_cookie = {};
          for (std::size_t k = 0; k < o.fastopen_len; ++k) o.fastopen_cookie[k] = v[k];
        }
        break;
      default:
        break;  // MUST-6: skip what we do not implement
    }
    i += len;
  }
  return o;
}

namespace {

bool present(const TcpOptions& o, OptionKind k) {
  switch (k) {
    case OptionKind::mss: return o.has_mss;
    case OptionKind::wscale: return o.has_wscale;
    case OptionKind::sack_permitted: return o.sack_permitted;
    case OptionKind::timestamps: return o.has_timestamps;
    // Only what the wire can carry: at most four SACK blocks, and no cookie outside RFC 7413
    // section 4.1.1 (empty, or 4 to 16 bytes and even), which the arrays could not hold or
    // a receiver would ignore.
    case OptionKind::sack: return o.sack_count > 0 && o.sack_count <= o.sack.size();
    case OptionKind::fastopen:
      return o.has_fastopen &&
             (o.fastopen_len == 0 || (o.fastopen_len >= 4 && o.fastopen_len <= o.fastopen_cookie.size() &&
                                      o.fastopen_len % 2 == 0));
    case OptionKind::eol:
    case OptionKind::nop: return false;
  }
  return false;
}

std::size_t option_size(const TcpOptions& o, OptionKind k) {
  switch (k) {
    case OptionKind::mss: return 4;
    case OptionKind::wscale: return 3;
    case OptionKind::sack_permitted: return 2;
    case OptionKind::timestamps: return 10;
    case OptionKind::sack: return 2 + 8 * std::size_t{o.sack_count};
    case OptionKind::fastopen: return 2 + std::size_t{o.fastopen_len};
    case OptionKind::eol:
    case OptionKind::nop: return 1;
  }
  return 0;
}

// Walks the layout, calling put(offset, kind) for each NOP and option; returns the unpadded
// length. Options that would not fit in 40 bytes are left out.
template <typename Put>
std::size_t lay_out(const TcpOptions& o, const OptionLayout& layout, Put&& put) {
  std::size_t off = 0;
  for (std::size_t i = 0; i < layout.count; ++i) {
    const OptionPlacement& p = layout.items[i];
    if (!present(o, p.kind)) continue;
    // A placement that cannot be met (modulus 0, remainder not below the modulus) places
    // the option where it falls.
    std::size_t pad = 0;
    if (p.mod > 1 && p.rem < p.mod) {
      while ((off + pad) % p.mod != p.rem) ++pad;
    }
    const std::size_t size = option_size(o, p.kind);
    if (off + pad + size > kTcpMaxOptions) continue;
    for (std::size_t k = 0; k < pad; ++k) put(off++, OptionKind::nop);
    put(off, p.kind);
    off += size;
  }
  return off;
}

}  // namespace

std::size_t options_wire_length(const TcpOptions& o, const OptionLayout& layout) {
  const std::size_t n = lay_out(o, layout, [](std::size_t, OptionKind) {});
  return (n + 3) & ~std::size_t{3};
}

std::size_t write_options(std::span<std::uint8_t> out, const TcpOptions& o,
                          const OptionLayout& layout) {
  std::uint8_t* b = out.data();
  const std::size_t n = lay_out(o, layout, [&](std::size_t off, OptionKind k) {
    std::uint8_t* p = b + off;
    p[0] = static_cast<std::uint8_t>(k);
    if (k == OptionKind::nop) return;
    p[1] = static_cast<std::uint8_t>(option_size(o, k));
    switch (k) {
      case OptionKind::mss: store_be16(p + 2, o.mss); break;
      case OptionKind::wscale: p[2] = o.wscale; break;
      case OptionKind::timestamps:
        store_be32(p + 2, o.ts_val);
        store_be32(p + 6, o.ts_ecr);
        break;
      case OptionKind::sack:
        for (std::size_t i = 0; i < o.sack_count; ++i) {
          store_be32(p + 2 + 8 * i, o.sack[i].left.raw());
          store_be32(p + 6 + 8 * i, o.sack[i].right.raw());
        }
        break;
      case OptionKind::fastopen:
        for (std::size_t i = 0; i < o.fastopen_len; ++i) p[2 + i] = o.fastopen_cookie[i];
        break;
      default: break;
    }
  });
  const std::size_t padded = (n + 3) & ~std::size_t{3};
  switch (padded - n) {  // EOL, then zeros (MUST-69)
    case 3: b[n + 2] = 0; [[fallthrough]];
    case 2: b[n + 1] = 0; [[fallthrough]];
    case 1: b[n] = 0; break;
    default: break;
  }
  return padded;
}

Result<TcpSegment, DropReason> parse_tcp(std::span<const std::uint8_t> b,
                                         const PseudoHeaderV4* ph) {
  if (b.size() < kTcpMinHeader) return fail(DropReason::tcp_truncated);
  TcpHeaderView v(b);
  const std::size_t hl = v.header_length();
  if (hl < kTcpMinHeader || hl > b.size()) return fail(DropReason::tcp_bad_data_offset);
  if (ph != nullptr) {
    if (b.size() > 0xffff) return fail(DropReason::tcp_truncated);
    ChecksumAccumulator acc;
    add_pseudo_header_v4(acc, ph->src, ph->dst, ip_proto::tcp, static_cast<std::uint16_t>(b.size()));
    acc.add(b);
    if (acc.sum() != 0xffff) return fail(DropReason::tcp_bad_checksum);
  }
  auto opts = parse_options(v.option_bytes());
  if (!opts) return fail(opts.error());
  TcpSegment s;
  s.src_port = v.src_port();
  s.dst_port = v.dst_port();
  s.seq = v.seq();
  s.ack = v.ack();
  s.flags = v.flags();
  s.window = v.window();
  s.urgent = v.urgent();
  s.header_length = static_cast<std::uint8_t>(hl);
  s.options = *opts;
  s.payload = v.payload();
  return s;
}

std::size_t write_tcp_header(std::span<std::uint8_t> out, const TcpHeaderFields& f,
                             const TcpOptions& o, const OptionLayout& layout) {
  std::uint8_t* p = out.data();
  const std::size_t optlen = write_options(out.subspan(kTcpMinHeader), o, layout);
  const std::size_t hl = kTcpMinHeader + optlen;
  store_be16(p, f.src_port);
  store_be16(p + 2, f.dst_port);
  store_be32(p + 4, f.seq.raw());
  store_be32(p + 8, f.ack.raw());
  p[12] = static_cast<std::uint8_t>((hl / 4) << 4);  // reserved bits zero
  p[13] = f.flags;
  store_be16(p + 14, f.window);
  store_be16(p + 16, 0);
  store_be16(p + 18, f.urgent);
  return hl;
}

void finish_tcp_checksum_v4(std::span<std::uint8_t> seg, std::uint32_t src, std::uint32_t dst) {
  store_be16(&seg[16], 0);
  ChecksumAccumulator acc;
  add_pseudo_header_v4(acc, src, dst, ip_proto::tcp, static_cast<std::uint16_t>(seg.size()));
  acc.add(seg);
  store_be16(&seg[16], acc.checksum());
}

std::string options_to_string(const TcpOptions& o) {
  std::string s;
  auto add = [&](const std::string& part) {
    if (!s.empty()) s += ',';
    s += part;
  };
  if (o.has_mss) add(fmt::format("mss {}", o.mss));
  if (o.has_wscale) add(fmt::format("wscale {}", o.wscale));
  if (o.sack_permitted) add("sackOK");
  if (o.has_timestamps) add(fmt::format("TS val {} ecr {}", o.ts_val, o.ts_ecr));
  if (o.sack_count > 0) {
    std::string b = "sack";
    for (std::size_t i = 0; i < o.sack_count; ++i)
      b += fmt::format(" {}:{}", o.sack[i].left.raw(), o.sack[i].right.raw());
    add(b);
  }
  if (o.has_fastopen) {
    std::string c = "FO";
    if (o.fastopen_len > 0) c += ' ';
    for (std::size_t i = 0; i < o.fastopen_len; ++i) c += fmt::format("{:02x}", o.fastopen_cookie[i]);
    add(c);
  }
  return s;
}

}  // namespace synfin::wire

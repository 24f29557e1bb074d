// Fuzz target: the wire layer must never crash or over-read, must agree with slow reference
// code, and must rebuild what it accepts. Checked on every input:
//  - the checksum equals a plain RFC 1071 loop, however the bytes are split into spans, and
//    an RFC 1624 incremental update leaves a header that still verifies;
//  - IPv4: whatever parses is rebuilt by write_ipv4_header to the same 20 bytes;
//  - TCP: whatever parses is rebuilt and parses again to the same fields, every option that
//    fit is kept exactly, and a second rebuild is byte-identical to the first;
//  - the same with the checksums repaired, which must then all verify;
//  - ICMP messages rebuild to the same bytes, and quoted TCP errors are read in bounds;
//  - option bytes alone never crash the parser; Ipv4Addr text round-trips canonically.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

using namespace synfin::wire;

namespace {

[[noreturn]] void violated(const char* what, int line) {
  std::fprintf(stderr, "fuzz_wire: check failed at line %d: %s\n", line, what);
  __builtin_trap();
}
#define CHECK(cond)                           \
  do {                                        \
    if (!(cond)) violated(#cond, __LINE__);   \
  } while (0)

std::uint16_t reference_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < n; i += 2) {
    sum += static_cast<std::uint32_t>(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0u);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum);
}

void check_checksum(std::span<const std::uint8_t> b) {
  const std::uint16_t whole = internet_checksum(b);
  CHECK(whole == reference_checksum(b.data(), b.size()));
  if (b.size() >= 2) {
    // Split in three at points the input chooses, odd offsets included.
    const std::size_t x = b[0] % b.size();
    const std::size_t y = x + b[1] % (b.size() - x);
    ChecksumAccumulator acc;
    acc.add(b.first(x)).add(b.subspan(x, y - x)).add(b.subspan(y));
    CHECK(acc.checksum() == whole);
  }
}

void check_incremental_update(std::span<const std::uint8_t> b) {
  if (b.size() < 24) return;
  // A 20-byte "header" from the input with a correct checksum at offset 10, then one 16-bit
  // word and one 32-bit word changed by incremental update: it must still verify.
  std::uint8_t h[20];
  std::memcpy(h, b.data(), 20);
  // Byte 0 stays non-zero as in any real header: over all-zero data RFC 1624 eqn. 3 gives
  // 0x0000 where recomputing gives 0xffff (section 3 of the RFC), which cannot occur here.
  h[0] = 0x45;
  store_be16(h + 10, 0);
  store_be16(h + 10, internet_checksum(h));
  const std::size_t w = 2 + (b[20] % 4) * 2;  // a 16-bit word other than 0 and the checksum
  const std::uint16_t old16 = load_be16(h + w);
  const std::uint16_t new16 = load_be16(b.data() + 21);
  store_be16(h + w, new16);
  store_be16(h + 10, checksum_update16(load_be16(h + 10), old16, new16));
  CHECK(internet_checksum(h) == 0);
  const std::uint32_t old32 = load_be32(h + 12);
  const std::uint32_t new32 = load_be32(b.data() + b.size() - 4);
  store_be32(h + 12, new32);
  store_be16(h + 10, checksum_update32(load_be16(h + 10), old32, new32));
  CHECK(internet_checksum(h) == 0);
}

void check_icmp(std::span<const std::uint8_t> b);

void check_ipv4(std::span<const std::uint8_t> b) {
  auto ip = parse_ipv4(b);
  if (!ip) return;
  const Ipv4Header& h = ip->header;
  CHECK(h.header_length >= 20 && h.header_length <= b.size());
  CHECK(h.total_length >= h.header_length && h.total_length <= b.size());
  CHECK(ip->payload.size() == h.total_length - h.header_length);
  CHECK(!h.more_fragments && h.fragment_offset == 0);
  if (h.header_length == 20 && (b[6] & 0x80) == 0) {  // no options, reserved flag clear
    std::uint8_t out[20];
    write_ipv4_header(out, h);
    CHECK(internet_checksum(out) == 0);
    // The checksum field may legitimately differ between 0x0000 and 0xffff (two zeros).
    CHECK(std::memcmp(out, b.data(), 10) == 0 && std::memcmp(out + 12, b.data() + 12, 8) == 0);
  }
  PseudoHeaderV4 ph{h.src.value, h.dst.value};
  (void)parse_tcp(ip->payload, &ph);
  if (h.protocol == ip_proto::icmp) check_icmp(ip->payload);
}

// Rebuilds a parsed segment with the default layout.
std::vector<std::uint8_t> rebuild(const TcpSegment& s) {
  std::vector<std::uint8_t> out(kTcpMaxHeader + s.payload.size());
  const TcpHeaderFields f{s.src_port, s.dst_port, s.seq, s.ack, s.flags, s.window, s.urgent};
  const std::size_t hl = write_tcp_header(out, f, s.options, kDefaultLayout);
  CHECK(hl >= kTcpMinHeader && hl <= kTcpMaxHeader && hl % 4 == 0);
  CHECK(hl == kTcpMinHeader + options_wire_length(s.options, kDefaultLayout));
  if (!s.payload.empty()) std::memcpy(out.data() + hl, s.payload.data(), s.payload.size());
  out.resize(hl + s.payload.size());
  return out;
}

void check_tcp(std::span<const std::uint8_t> b) {
  auto seg = parse_tcp(b, nullptr);
  if (!seg) return;
  const TcpSegment& s = *seg;
  CHECK(s.header_length + s.payload.size() == b.size());
  const auto out = rebuild(s);
  auto again = parse_tcp(out, nullptr);
  CHECK(again.ok());
  const TcpSegment& a = *again;
  CHECK(a.src_port == s.src_port && a.dst_port == s.dst_port && a.seq == s.seq &&
        a.ack == s.ack && a.flags == s.flags && a.window == s.window && a.urgent == s.urgent);
  CHECK(a.payload.size() == s.payload.size());
  CHECK(s.payload.empty() || std::memcmp(a.payload.data(), s.payload.data(), s.payload.size()) == 0);
  // Every option that was written comes back exactly; none appears from nowhere.
  const TcpOptions& o = s.options;
  const TcpOptions& p = a.options;
  CHECK(!p.has_mss || (o.has_mss && p.mss == o.mss));
  CHECK(!p.has_wscale || (o.has_wscale && p.wscale == o.wscale));
  CHECK(!p.sack_permitted || o.sack_permitted);
  CHECK(!p.has_timestamps || (o.has_timestamps && p.ts_val == o.ts_val && p.ts_ecr == o.ts_ecr));
  CHECK(p.sack_count == 0 || (p.sack_count == o.sack_count && p.sack == o.sack));
  CHECK(!p.has_fastopen || (o.has_fastopen && p.fastopen_len == o.fastopen_len &&
                            p.fastopen_cookie == o.fastopen_cookie));
  // Without SACK blocks every option fits in 40 bytes: nothing may be lost.
  if (o.sack_count == 0) CHECK(p == o);
  // Writing is a function of the value: a second round is byte-identical.
  CHECK(rebuild(a) == out);
  (void)flags_to_string(s.flags);
  (void)options_to_string(s.options);
}

void check_icmp(std::span<const std::uint8_t> b) {
  auto m = parse_icmp(b);
  if (!m) return;
  CHECK(m->body.size() + 8 == b.size());
  // Rebuilt from its fields, the message is the same bytes (the checksum may differ only
  // between its two representations of zero).
  const auto out = build_icmp(m->type, m->code, m->rest, m->body);
  CHECK(out.size() == b.size() && internet_checksum(out) == 0);
  CHECK(std::memcmp(out.data(), b.data(), 2) == 0 && std::memcmp(out.data() + 4, b.data() + 4, b.size() - 4) == 0);
  if (auto e = parse_icmp_tcp_error(*m)) {
    const std::size_t ihl = static_cast<std::size_t>(m->body[0] & 0x0f) * 4;
    CHECK(ihl >= 20 && m->body.size() >= ihl + 8);
    CHECK(e->src_port == load_be16(&m->body[ihl]) && e->seq.raw() == load_be32(&m->body[ihl + 4]));
  }
}

// Random bytes rarely carry a valid checksum: a copy with the IPv4, TCP and ICMP checksums
// filled in reaches the parsers' later checks, and no repaired checksum may be rejected.
void check_repaired(std::span<const std::uint8_t> b) {
  if (b.size() < kIpv4MinHeader || (b[0] >> 4) != 4) return;
  std::vector<std::uint8_t> p(b.begin(), b.end());
  const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  if (ihl < kIpv4MinHeader || ihl > p.size()) return;
  const std::size_t total = load_be16(&p[2]);
  if (total < ihl || total > p.size()) return;
  store_be16(&p[10], 0);
  store_be16(&p[10], internet_checksum({p.data(), ihl}));
  const std::span<std::uint8_t> payload(p.data() + ihl, total - ihl);
  if (p[9] == ip_proto::tcp && payload.size() >= kTcpMinHeader) {
    finish_tcp_checksum_v4(payload, load_be32(&p[12]), load_be32(&p[16]));
  } else if (p[9] == ip_proto::icmp && payload.size() >= 8) {
    store_be16(&payload[2], 0);
    store_be16(&payload[2], internet_checksum(payload));
  }
  auto ip = parse_ipv4(p);
  CHECK(ip.ok() || ip.error() == synfin::DropReason::ip_fragment);
  if (!ip) return;
  if (p[9] == ip_proto::tcp && payload.size() >= kTcpMinHeader) {
    const PseudoHeaderV4 ph{ip->header.src.value, ip->header.dst.value};
    auto t = parse_tcp(ip->payload, &ph);
    CHECK(t.ok() || t.error() != synfin::DropReason::tcp_bad_checksum);
    if (t) check_tcp(ip->payload);
  } else if (p[9] == ip_proto::icmp && payload.size() >= 8) {
    CHECK(parse_icmp(ip->payload).ok());
  }
  check_ipv4(p);
}

void check_address_text(std::span<const std::uint8_t> b) {
  if (b.size() > 24) return;
  const std::string_view text(reinterpret_cast<const char*>(b.data()), b.size());
  auto addr = Ipv4Addr::parse(text);
  if (!addr) return;
  // Only canonical dotted decimal is accepted, so printing gives the same text back.
  CHECK(addr->to_string() == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  check_checksum(bytes);
  check_incremental_update(bytes);
  check_ipv4(bytes);
  check_tcp(bytes);
  check_icmp(bytes);
  check_repaired(bytes);
  (void)parse_options(bytes.first(std::min<std::size_t>(size, 255)));
  check_address_text(bytes);
  return 0;
}

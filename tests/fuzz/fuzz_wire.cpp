// Fuzz target: IPv4 and TCP parsing must never crash, over-read or accept what it cannot
// rebuild. Whatever parses is rebuilt and parsed again to the same value.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

using namespace synfin::wire;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> bytes(data, size);
  // As an IPv4 packet carrying TCP.
  if (auto ip = parse_ipv4(bytes)) {
    PseudoHeaderV4 ph{ip->header.src.value, ip->header.dst.value};
    (void)parse_tcp(ip->payload, &ph);
  }
  // As a bare TCP segment, checksum unchecked: options must round-trip.
  auto seg = parse_tcp(bytes, nullptr);
  if (seg) {
    std::vector<std::uint8_t> out(kTcpMaxHeader + seg->payload.size());
    TcpHeaderFields f{seg->src_port, seg->dst_port, seg->seq, seg->ack, seg->flags, seg->window, seg->urgent};
    const std::size_t hl = write_tcp_header(out, f, seg->options, kDefaultLayout);
    if (!seg->payload.empty()) std::memcpy(out.data() + hl, seg->payload.data(), seg->payload.size());
    out.resize(hl + seg->payload.size());
    auto again = parse_tcp(out, nullptr);
    if (!again) __builtin_trap();
    // Options that fit are preserved; everything else must match exactly.
    if (again->seq != seg->seq || again->ack != seg->ack || again->flags != seg->flags ||
        again->window != seg->window || again->payload.size() != seg->payload.size()) {
      __builtin_trap();
    }
    if (again->options.has_mss != seg->options.has_mss || again->options.mss != seg->options.mss) __builtin_trap();
  }
  (void)parse_options(bytes);
  return 0;
}

// SipHash-2-4 (Aumasson and Bernstein) and the RFC 6528 ISN. See isn.hpp.
#include "tcp/isn.hpp"

#include <cstring>

namespace synfin::tcp {
namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }
};

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key, std::span<const std::uint8_t> data) {
  const std::uint64_t k0 = load_le64(key.data());
  const std::uint64_t k1 = load_le64(key.data() + 8);
  SipState s{0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1, 0x6c7967656e657261ULL ^ k0,
             0x7465646279746573ULL ^ k1};
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t m = load_le64(data.data() + i);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t j = 0; i + j < n; ++j) last |= static_cast<std::uint64_t>(data[i + j]) << (8 * j);
  s.v3 ^= last;
  s.round();
  s.round();
  s.v0 ^= last;
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint32_t IsnGenerator::keyed_hash(const FourTuple& t, std::uint32_t salt) const {
  std::uint8_t buf[16];
  std::memcpy(buf, &t.local_addr, 4);
  std::memcpy(buf + 4, &t.remote_addr, 4);
  std::memcpy(buf + 8, &t.local_port, 2);
  std::memcpy(buf + 10, &t.remote_port, 2);
  std::memcpy(buf + 12, &salt, 4);
  return static_cast<std::uint32_t>(siphash24(secret_, buf));
}

wire::Seq IsnGenerator::isn(const FourTuple& t, Instant now) const {
  // M: one tick per 4 microseconds, wrapping modulo 2^32 (about every 4.55 hours).
  const auto m = static_cast<std::uint32_t>(static_cast<std::uint64_t>(to_us(now)) / 4);
  return wire::Seq{m + keyed_hash(t, 0)};
}

}  // namespace synfin::tcp

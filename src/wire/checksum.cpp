// Internet checksum with 64-bit accumulation. See checksum.hpp.
#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace synfin::wire {
namespace {

inline std::uint64_t add_carry(std::uint64_t a, std::uint64_t b) {
  const std::uint64_t s = a + b;
  return s + (s < b ? 1 : 0);
}

inline std::uint16_t fold(std::uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

inline std::uint16_t bswap16(std::uint16_t v) { return static_cast<std::uint16_t>((v >> 8) | (v << 8)); }

// Native-order one's complement sum of `n` bytes starting at an even stream offset.
std::uint64_t sum_native(const std::uint8_t* p, std::size_t n) {
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (n >= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, 32);
    a0 = add_carry(a0, w[0]);
    a1 = add_carry(a1, w[1]);
    a2 = add_carry(a2, w[2]);
    a3 = add_carry(a3, w[3]);
    p += 32;
    n -= 32;
  }
  std::uint64_t acc = add_carry(add_carry(a0, a1), add_carry(a2, a3));
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    acc = add_carry(acc, w);
    p += 8;
    n -= 8;
  }
  // The remaining 0..7 bytes, zero padded (little-endian host), gathered in a register: a
  // byte-wise copy into a word and a load of it would stall on store forwarding.
  std::uint64_t tail = 0;
  int shift = 0;
  if (n & 4) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    tail = v;
    p += 4;
    shift = 32;
  }
  if (n & 2) {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    tail |= std::uint64_t{v} << shift;
    p += 2;
    shift += 16;
  }
  if (n & 1) tail |= std::uint64_t{*p} << shift;
  return add_carry(acc, tail);
}

#if defined(__x86_64__)
// The same sum 64 bytes at a time with AVX2: 32-bit words are added into 64-bit lanes, which
// cannot overflow for any buffer below 16 GiB. A sum of 32-bit little-endian words folds
// to the same one's complement value as the sum of 16-bit ones (2^16 = 1 modulo 0xffff).
// With `dst`, the bytes are also copied there in the same pass.
template <bool kCopy>
__attribute__((target("avx2"))) std::uint64_t sum_avx2(std::uint8_t* dst, const std::uint8_t* p, std::size_t n) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  while (n >= 64) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    if constexpr (kCopy) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), x);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), y);
      dst += 64;
    }
    a0 = _mm256_add_epi64(a0, _mm256_unpacklo_epi32(x, zero));
    a1 = _mm256_add_epi64(a1, _mm256_unpackhi_epi32(x, zero));
    a2 = _mm256_add_epi64(a2, _mm256_unpacklo_epi32(y, zero));
    a3 = _mm256_add_epi64(a3, _mm256_unpackhi_epi32(y, zero));
    p += 64;
    n -= 64;
  }
  const __m256i t = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  std::uint64_t acc = static_cast<std::uint64_t>(_mm_cvtsi128_si64(h)) +
                      static_cast<std::uint64_t>(_mm_extract_epi64(h, 1));
  if constexpr (kCopy) std::memcpy(dst, p, n);
  return add_carry(acc, sum_native(p, n));
}

bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

std::uint64_t sum_any(const std::uint8_t* p, std::size_t n) {
#if defined(__x86_64__)
  if (n >= 128 && have_avx2()) return sum_avx2<false>(nullptr, p, n);
#endif
  return sum_native(p, n);
}

std::uint64_t sum_and_copy(std::uint8_t* dst, const std::uint8_t* p, std::size_t n) {
#if defined(__x86_64__)
  if (n >= 128 && have_avx2()) return sum_avx2<true>(dst, p, n);
#endif
  std::memcpy(dst, p, n);
  return sum_native(dst, n);
}

}  // namespace

static_assert(std::endian::native == std::endian::little, "checksum assumes a little-endian host");

ChecksumAccumulator& ChecksumAccumulator::add(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return *this;
  return add_sum(sum_any(bytes.data(), bytes.size()), bytes.size());
}

ChecksumAccumulator& ChecksumAccumulator::add_copy(std::uint8_t* dst, std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return *this;
  return add_sum(sum_and_copy(dst, bytes.data(), bytes.size()), bytes.size());
}

ChecksumAccumulator& ChecksumAccumulator::add_sum(std::uint64_t s, std::size_t length) {
  if (odd_) {
    // These bytes start at an odd offset of the stream: their 16-bit lanes are shifted by
    // one byte, which in one's complement arithmetic is a byte swap of the folded sum.
    s = bswap16(fold(s));
  }
  acc_ = add_carry(acc_, s);
  if (length % 2 != 0) odd_ = !odd_;
  return *this;
}

ChecksumAccumulator& ChecksumAccumulator::add(const ChecksumAccumulator& even_part) {
  // Its lanes line up with ours whatever we hold: it starts at an even offset.
  acc_ = add_carry(acc_, even_part.acc_);
  if (even_part.odd_) odd_ = !odd_;
  return *this;
}

ChecksumAccumulator& ChecksumAccumulator::add_words(std::uint64_t sum_of_words, std::size_t length) {
  // A sum of big-endian words is, byte-swapped, the same sum in native lanes.
  return add_sum(bswap16(fold(sum_of_words)), length);
}

ChecksumAccumulator& ChecksumAccumulator::add_be16(std::uint16_t v) {
  const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  return add(b);
}

ChecksumAccumulator& ChecksumAccumulator::add_be32(std::uint32_t v) {
  const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                             static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  return add(b);
}

std::uint16_t ChecksumAccumulator::sum() const {
  // Native little-endian lanes: swap to obtain the value in network (host-number) order.
  return bswap16(fold(acc_));
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) {
  return ChecksumAccumulator{}.add(bytes).checksum();
}

void add_pseudo_header_v4(ChecksumAccumulator& acc, std::uint32_t src, std::uint32_t dst,
                          std::uint8_t protocol, std::uint16_t length) {
  // The 12 bytes as six 16-bit words, summed from the values (bytes written and read back at
  // once would stall on store forwarding, once per packet).
  acc.add_words(std::uint64_t{src >> 16} + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + protocol + length, 12);
}

void add_pseudo_header_v6(ChecksumAccumulator& acc, std::span<const std::uint8_t, 16> src,
                          std::span<const std::uint8_t, 16> dst, std::uint8_t next_header,
                          std::uint32_t length) {
  acc.add(src).add(dst).add_be32(length).add_be32(next_header);
}

std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_word,
                                std::uint16_t new_word) {
  std::uint32_t s = static_cast<std::uint16_t>(~checksum);
  s += static_cast<std::uint16_t>(~old_word);
  s += new_word;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                std::uint32_t new_value) {
  checksum = checksum_update16(checksum, static_cast<std::uint16_t>(old_value >> 16),
                               static_cast<std::uint16_t>(new_value >> 16));
  return checksum_update16(checksum, static_cast<std::uint16_t>(old_value),
                           static_cast<std::uint16_t>(new_value));
}

}  // namespace synfin::wire

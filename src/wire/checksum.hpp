// The Internet checksum (RFC 1071) with 64-bit accumulation, pseudo-headers for TCP over
// IPv4 and IPv6 (RFC 9293 section 3.1, RFC 8200 section 8.1), and incremental update
// (RFC 1624 equation 3).
//
// All results are 16-bit values in host order, ready for store_be16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace synfin::wire {

// Sums bytes in one's complement arithmetic, across any number of spans of any length and
// alignment. The sum is kept in native byte order (RFC 1071 section 2(B) shows the result is
// the same up to a final swap) so whole 64-bit words are added at once.
class ChecksumAccumulator {
 public:
  ChecksumAccumulator& add(std::span<const std::uint8_t> bytes);
  // Copies `bytes` to `dst` and adds them, in one pass over the bytes.
  ChecksumAccumulator& add_copy(std::uint8_t* dst, std::span<const std::uint8_t> bytes);
  // Adds bytes already summed by another accumulator that started at an even offset of this
  // stream (a header summed after its payload, say), in one step.
  ChecksumAccumulator& add(const ChecksumAccumulator& even_part);
  // Adds a sum of big-endian 16-bit words given as numbers (a header's fields, added
  // without storing and reloading them); `length` is the byte count they stand for.
  ChecksumAccumulator& add_words(std::uint64_t sum_of_words, std::size_t length);
  ChecksumAccumulator& add_be16(std::uint16_t v);
  ChecksumAccumulator& add_be32(std::uint32_t v);
  // The folded one's complement sum (not inverted), host order.
  std::uint16_t sum() const;
  // The checksum field value: the inverted sum, host order.
  std::uint16_t checksum() const { return static_cast<std::uint16_t>(~sum()); }

 private:
  ChecksumAccumulator& add_sum(std::uint64_t native_sum, std::size_t length);

  std::uint64_t acc_ = 0;
  bool odd_ = false;  // an odd number of bytes has been added so far
};

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes);

// Adds the pseudo-header: source, destination, zero, protocol, transport length.
void add_pseudo_header_v4(ChecksumAccumulator& acc, std::uint32_t src, std::uint32_t dst,
                          std::uint8_t protocol, std::uint16_t length);
void add_pseudo_header_v6(ChecksumAccumulator& acc, std::span<const std::uint8_t, 16> src,
                          std::span<const std::uint8_t, 16> dst, std::uint8_t next_header,
                          std::uint32_t length);

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit field changing from m to m'.
std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_word,
                                std::uint16_t new_word);
std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                std::uint32_t new_value);

}  // namespace synfin::wire

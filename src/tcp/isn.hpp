// Initial sequence numbers per RFC 9293 section 3.4.1 (RFC 6528): ISN = M + F(4-tuple,
// secret), M a clock ticking every 4 microseconds (MUST-8), F a keyed pseudo-random function
// outsiders cannot compute (MUST-9): SipHash-2-4 with a 128-bit secret the owner supplies.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "synfin/time.hpp"
#include "wire/seq.hpp"

namespace synfin::tcp {

std::uint64_t siphash24(const std::array<std::uint8_t, 16>& key, std::span<const std::uint8_t> data);

struct FourTuple {
  std::uint32_t local_addr = 0;
  std::uint32_t remote_addr = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  friend constexpr bool operator==(const FourTuple&, const FourTuple&) = default;
};

class IsnGenerator {
 public:
  explicit IsnGenerator(const std::array<std::uint8_t, 16>& secret) : secret_(secret) {}
  wire::Seq isn(const FourTuple& t, Instant now) const;
  // F alone, for SYN cookies and timestamp offsets that need the keyed hash of a tuple.
  std::uint32_t keyed_hash(const FourTuple& t, std::uint32_t salt) const;

 private:
  std::array<std::uint8_t, 16> secret_;
};

}  // namespace synfin::tcp

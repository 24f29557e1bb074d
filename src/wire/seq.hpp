// TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 section 3.4).
// a < b means b lies ahead of a by less than 2^31.
#pragma once

#include <compare>
#include <cstdint>

namespace synfin::wire {

class Seq {
 public:
  constexpr Seq() = default;
  constexpr explicit Seq(std::uint32_t v) : v_(v) {}

  constexpr std::uint32_t raw() const { return v_; }

  // How far this number lies ahead of `base`, modulo 2^32.
  constexpr std::uint32_t since(Seq base) const { return v_ - base.v_; }

  constexpr Seq& operator+=(std::uint32_t n) { v_ += n; return *this; }
  constexpr Seq& operator-=(std::uint32_t n) { v_ -= n; return *this; }
  friend constexpr Seq operator+(Seq a, std::uint32_t n) { return Seq{a.v_ + n}; }
  friend constexpr Seq operator-(Seq a, std::uint32_t n) { return Seq{a.v_ - n}; }
  // Signed distance a - b, meaningful when the two lie within 2^31 of each other.
  friend constexpr std::int32_t operator-(Seq a, Seq b) {
    return static_cast<std::int32_t>(a.v_ - b.v_);
  }

  friend constexpr bool operator==(Seq a, Seq b) = default;
  friend constexpr std::strong_ordering operator<=>(Seq a, Seq b) {
    const auto d = static_cast<std::int32_t>(a.v_ - b.v_);
    return d <=> 0;
  }

 private:
  std::uint32_t v_ = 0;
};

// left <= s < left + len, modulo 2^32. An empty window holds nothing.
constexpr bool in_window(Seq s, Seq left, std::uint32_t len) { return s.since(left) < len; }

// left <= s <= right, modulo 2^32 (right may equal left).
constexpr bool in_range(Seq s, Seq left, Seq right) { return s.since(left) <= right.since(left); }

constexpr Seq seq_max(Seq a, Seq b) { return a < b ? b : a; }
constexpr Seq seq_min(Seq a, Seq b) { return a < b ? a : b; }

}  // namespace synfin::wire

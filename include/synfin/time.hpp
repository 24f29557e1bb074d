// Time as the sans-IO core sees it: a monotonic instant handed in by the owner, never read
// from a clock here. Microsecond resolution covers every TCP timer (RFC 9293, RFC 6298).
#pragma once

#include <chrono>
#include <cstdint>

namespace synfin {

using Duration = std::chrono::microseconds;

// A clock type with no now(): only the runtime or the simulator decides what time it is.
struct MonoClock {
  using rep = std::int64_t;
  using period = std::micro;
  using duration = Duration;
  using time_point = std::chrono::time_point<MonoClock>;
  static constexpr bool is_steady = true;
};

using Instant = MonoClock::time_point;

inline constexpr Instant kNever = Instant::max();
inline constexpr Instant kEpoch = Instant{};

constexpr Instant at(Duration since_epoch) { return Instant{since_epoch}; }

constexpr std::int64_t to_us(Instant t) { return t.time_since_epoch().count(); }
constexpr std::int64_t to_us(Duration d) { return d.count(); }
constexpr double to_seconds(Duration d) { return static_cast<double>(d.count()) / 1e6; }
constexpr double to_seconds(Instant t) { return to_seconds(t.time_since_epoch()); }

}  // namespace synfin

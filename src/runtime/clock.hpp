// Real time for the sans-IO core: CLOCK_MONOTONIC, counted from when the clock was made
// (plus one second, so that no real moment is the zero Instant), in microseconds.
#pragma once

#include <time.h>

#include "synfin/time.hpp"

namespace synfin::runtime {

class Clock {
 public:
  Clock() { ::clock_gettime(CLOCK_MONOTONIC, &start_); }

  Instant now() const {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return from_timespec(t);
  }
  Instant from_timespec(const timespec& t) const {
    const std::int64_t us = (static_cast<std::int64_t>(t.tv_sec) - start_.tv_sec) * 1'000'000 +
                            (static_cast<std::int64_t>(t.tv_nsec) - start_.tv_nsec) / 1000;
    return at(Duration{us + kOffsetUs});
  }
  // The CLOCK_MONOTONIC moment of `when` (for an absolute timerfd).
  timespec to_timespec(Instant when) const {
    const std::int64_t us = to_us(when) - kOffsetUs;
    std::int64_t ns = static_cast<std::int64_t>(start_.tv_nsec) + (us % 1'000'000) * 1000;
    std::int64_t sec = static_cast<std::int64_t>(start_.tv_sec) + us / 1'000'000;
    if (ns >= 1'000'000'000) {
      ns -= 1'000'000'000;
      ++sec;
    } else if (ns < 0) {
      ns += 1'000'000'000;
      --sec;
    }
    timespec t{};
    t.tv_sec = static_cast<time_t>(sec);
    t.tv_nsec = static_cast<long>(ns);
    return t;
  }

 private:
  static constexpr std::int64_t kOffsetUs = 1'000'000;
  timespec start_{};
};

}  // namespace synfin::runtime

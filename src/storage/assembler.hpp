// Out-of-order bookkeeping for the receiver: which byte ranges beyond RCV.NXT have arrived
// (the bytes themselves sit in the receive ring, written ahead). Ranges are offsets from the
// current RCV.NXT, kept sorted and merged. The number of ranges is bounded; a segment that
// would need more is refused (and counted by the caller).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace synfin::storage {

class Assembler {
 public:
  struct Range {
    std::uint32_t start;
    std::uint32_t end;  // one past the last byte
  };

  // Enough for a multi-megabyte window with every other segment lost; the bound keeps a
  // hostile peer from making us keep an unbounded list.
  static constexpr std::size_t kMaxRanges = 2048;

  bool empty() const { return ranges_.empty(); }
  std::size_t range_count() const { return ranges_.size(); }
  const std::vector<Range>& ranges() const { return ranges_; }

  // Records [start, end). When the range count is at its bound, a new range below the
  // highest one evicts the highest (the sender still holds that data until it is
  // cumulatively acknowledged, RFC 2018 section 8); a new range above it is refused.
  // `evicted` (if given) receives the start of an evicted range. Returns false if refused.
  bool add(std::uint32_t start, std::uint32_t end, std::uint32_t* evicted = nullptr) {
    if (start >= end) return true;
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), start,
                               [](const Range& r, std::uint32_t s) { return r.end < s; });
    // it: first range whose end >= start, i.e. that touches or follows the new one.
    if (it == ranges_.end() || it->start > end) {
      if (ranges_.size() >= kMaxRanges) {
        if (it == ranges_.end()) return false;
        const auto pos = it - ranges_.begin();
        if (evicted != nullptr) *evicted = ranges_.back().start;
        ranges_.pop_back();
        it = ranges_.begin() + pos;
      }
      ranges_.insert(it, Range{start, end});
      return true;
    }
    it->start = std::min(it->start, start);
    it->end = std::max(it->end, end);
    auto next = it + 1;
    while (next != ranges_.end() && next->start <= it->end) {
      it->end = std::max(it->end, next->end);
      next = ranges_.erase(next);
    }
    return true;
  }

  // Bytes contiguous from offset 0 (ready to deliver).
  std::uint32_t contiguous() const {
    return (!ranges_.empty() && ranges_.front().start == 0) ? ranges_.front().end : 0;
  }

  // RCV.NXT moved forward by n: shift every range down, dropping what falls below zero.
  void advance(std::uint32_t n) {
    std::size_t keep = 0;
    for (Range r : ranges_) {
      if (r.end <= n) continue;
      ranges_[keep++] = Range{r.start > n ? r.start - n : 0, r.end - n};
    }
    ranges_.resize(keep);
    if (ranges_.empty()) ranges_.shrink_to_fit();
  }

  void clear() {
    ranges_.clear();
    ranges_.shrink_to_fit();
  }

 private:
  std::vector<Range> ranges_;
};

}  // namespace synfin::storage

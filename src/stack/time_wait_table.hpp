// The TIME-WAIT table: compact records (tcp/time_wait.hpp) with a free list, found by
// 4-tuple through an index of their own. The index is open addressing over record numbers
// (4 bytes a bucket, linear probing, backward-shift deletion); the key is read from the
// record itself, so a TIME-WAIT costs the record, a few bytes of index and its timer.
// Records live in fixed chunks rather than one growing vector: a table of 100,000s never
// copies itself, and leaves no freed half-size copies behind in the allocator.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "stack/tuple_map.hpp"
#include "tcp/time_wait.hpp"

namespace synfin::stack {

class TimeWaitTable {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  explicit TimeWaitTable(std::uint64_t key0 = 0x9e3779b97f4a7c15ULL, std::uint64_t key1 = 0xc2b2ae3d27d4eb4fULL)
      : hash_(key0, key1) {
    index_.assign(16, kNone);
  }

  std::uint32_t find(const tcp::FourTuple& t) const {
    if (size_ == 0) return kNone;
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = hash_(t) & mask;; i = (i + 1) & mask) {
      const std::uint32_t r = index_[i];
      if (r == kNone) return kNone;
      if (at(r).tuple == t) return r;
    }
  }

  // Adds a record whose 4-tuple is not in the table; returns its number.
  std::uint32_t insert(const tcp::TimeWaitRecord& rec) {
    if ((size_ + 1) * 4 > index_.size() * 3) grow();
    std::uint32_t r;
    if (!free_.empty()) {
      r = free_.back();
      free_.pop_back();
    } else {
      r = count_++;
      if ((r & kChunkMask) == 0) chunks_.push_back(std::make_unique<Chunk>());
    }
    at(r) = rec;
    link(r);
    ++size_;
    return r;
  }

  void erase(std::uint32_t r) {
    const std::size_t mask = index_.size() - 1;
    std::size_t i = hash_(at(r).tuple) & mask;
    while (index_[i] != r) i = (i + 1) & mask;
    // Backward-shift: pull later entries of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; index_[j] != kNone; j = (j + 1) & mask) {
      const std::size_t home = hash_(at(index_[j]).tuple) & mask;
      const bool movable = (j > hole) ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        index_[hole] = index_[j];
        hole = j;
      }
    }
    index_[hole] = kNone;
    --size_;
    at(r) = tcp::TimeWaitRecord{};  // a free record has no 4-tuple (local port 0)
    free_.push_back(r);
  }

  tcp::TimeWaitRecord& operator[](std::uint32_t r) { return at(r); }
  const tcp::TimeWaitRecord& operator[](std::uint32_t r) const { return at(r); }
  bool in_use(std::uint32_t r) const { return r < count_ && at(r).tuple.local_port != 0; }
  std::size_t size() const { return size_; }
  // What the table holds in memory: the records' chunks, the index and the free list.
  std::size_t bytes() const {
    return chunks_.size() * sizeof(Chunk) + chunks_.capacity() * sizeof(chunks_[0]) +
           index_.size() * sizeof(std::uint32_t) + free_.capacity() * sizeof(std::uint32_t);
  }

 private:
  static constexpr std::uint32_t kChunkShift = 10;  // 1024 records a chunk
  static constexpr std::uint32_t kChunkMask = (1u << kChunkShift) - 1;
  using Chunk = std::array<tcp::TimeWaitRecord, std::size_t{1} << kChunkShift>;

  tcp::TimeWaitRecord& at(std::uint32_t r) { return (*chunks_[r >> kChunkShift])[r & kChunkMask]; }
  const tcp::TimeWaitRecord& at(std::uint32_t r) const { return (*chunks_[r >> kChunkShift])[r & kChunkMask]; }

  void link(std::uint32_t r) {
    const std::size_t mask = index_.size() - 1;
    std::size_t i = hash_(at(r).tuple) & mask;
    while (index_[i] != kNone) i = (i + 1) & mask;
    index_[i] = r;
  }

  void grow() {
    index_.assign(index_.size() * 2, kNone);
    for (std::uint32_t r = 0; r < count_; ++r)
      if (at(r).tuple.local_port != 0) link(r);
  }

  TupleHash hash_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::uint32_t count_ = 0;  // records ever made: the chunks hold [0, count_)
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> index_;
  std::size_t size_ = 0;
};

}  // namespace synfin::stack

// The demultiplexing table: 4-tuple -> connection slot, an open-addressing hash table with
// linear probing and backward-shift deletion (no tombstones). The hash is keyed by the
// stack's secret so that a remote host cannot aim its connections at one bucket.
#pragma once

#include <cstdint>
#include <vector>

#include "tcp/isn.hpp"

namespace synfin::stack {

// The keyed hash of a 4-tuple, shared by the tables that look connections up.
class TupleHash {
 public:
  explicit TupleHash(std::uint64_t key0 = 0x9e3779b97f4a7c15ULL, std::uint64_t key1 = 0xc2b2ae3d27d4eb4fULL)
      : k0_(key0), k1_(key1) {}

  std::size_t operator()(const tcp::FourTuple& t) const {
    const std::uint64_t a = (std::uint64_t{t.local_addr} << 32) | t.remote_addr;
    const std::uint64_t b = (std::uint64_t{t.local_port} << 16) | t.remote_port;
    return static_cast<std::size_t>(mix(a ^ k0_) ^ mix(b ^ k1_));
  }

 private:
  static std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  }

  std::uint64_t k0_;
  std::uint64_t k1_;
};

class TupleMap {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  explicit TupleMap(std::uint64_t key0 = 0x9e3779b97f4a7c15ULL, std::uint64_t key1 = 0xc2b2ae3d27d4eb4fULL)
      : hash_(key0, key1) {
    slots_.resize(16);
  }

  std::uint32_t find(const tcp::FourTuple& t) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash_(t) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.value == kNone) return kNone;
      if (s.key == t) return s.value;
    }
  }

  // Inserts or replaces.
  void insert(const tcp::FourTuple& t, std::uint32_t value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash_(t) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.value == kNone) {
        s.key = t;
        s.value = value;
        ++size_;
        return;
      }
      if (s.key == t) {
        s.value = value;
        return;
      }
    }
  }

  bool erase(const tcp::FourTuple& t) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = hash_(t) & mask;
    while (true) {
      if (slots_[i].value == kNone) return false;
      if (slots_[i].key == t) break;
      i = (i + 1) & mask;
    }
    // Backward-shift: pull later entries of the probe run into the hole.
    std::size_t hole = i;
    for (std::size_t j = (i + 1) & mask; slots_[j].value != kNone; j = (j + 1) & mask) {
      const std::size_t home = hash_(slots_[j].key) & mask;
      // Move j into the hole if its home lies cyclically outside (hole, j].
      const bool movable = (j > hole) ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].value = kNone;
    --size_;
    return true;
  }

  std::size_t size() const { return size_; }
  std::size_t bytes() const { return slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    tcp::FourTuple key;
    std::uint32_t value = kNone;
  };

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, Slot{});
    size_ = 0;
    for (const Slot& s : old)
      if (s.value != kNone) insert(s.key, s.value);
  }

  TupleHash hash_;
  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace synfin::stack

// A hierarchical timing wheel: six levels of 64 slots at a 1 ms tick (level l slots are 64^l
// ticks wide), covering about 2.2 years. Each timer id (a connection slot, or a TIME-WAIT
// record) has at most one entry. An entry sits at the level of the highest base-64 digit in
// which its expiry tick differs from the wheel's current tick; when the wheel reaches the
// start of its slot it moves down. Insert, cancel and expiry are O(1); finding the next
// deadline looks at six 64-bit occupancy words, never at the timers themselves.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "synfin/time.hpp"

namespace synfin::stack {

class TimerWheel {
 public:
  static constexpr int kLevels = 6;
  static constexpr int kSlots = 64;
  static constexpr std::int64_t kTickUs = 1000;

  explicit TimerWheel(Instant start = Instant{});

  // Schedules (or moves) timer `id` to expire at `deadline` (rounded up to the tick).
  // kNever cancels it.
  void schedule(std::uint32_t id, Instant deadline);
  void cancel(std::uint32_t id);
  bool scheduled(std::uint32_t id) const {
    return id < nodes_.size() && nodes_[id].level != kUnlinked;
  }
  std::size_t size() const { return count_; }
  // Memory held: the nodes (one per id ever scheduled) and the slot heads.
  std::size_t bytes() const { return nodes_.size() * sizeof(Node) + sizeof(heads_) + sizeof(occupied_); }

  // The earliest time at which advance() has work to do: the exact tick of the next expiry
  // at level 0, or the start of the next slot that must move down. kNever when empty.
  Instant next_deadline() const;

  // Moves the wheel to `now`, calling fire(id) for each timer whose deadline has passed. The
  // entry is removed before fire() runs, so fire() may schedule the id again.
  template <typename Fire>
  void advance(Instant now, Fire&& fire) {
    const std::uint64_t target = tick_floor(now);
    while (true) {
      const std::uint64_t next = next_tick();
      if (next == kNoTick || next > target) break;
      current_ = next;
      const int level = lowest_level();
      const int slot = level == 0 ? static_cast<int>(current_ & 63)
                                  : static_cast<int>((current_ >> (6 * level)) & 63);
      std::uint32_t id = detach_slot(level, slot);
      while (id != kNil) {
        const std::uint32_t next_id = nodes_[id].next;
        Node& n = nodes_[id];
        n.level = kUnlinked;
        n.prev = n.next = kNil;
        --count_;
        if (n.expiry <= current_) {
          fire(id);
        } else {
          link(id, n.expiry);
        }
        id = next_id;
      }
    }
    if (target > current_) current_ = target;
  }

 private:
  static constexpr std::uint32_t kNil = 0xffffffffu;
  static constexpr std::uint8_t kUnlinked = 0xff;
  static constexpr std::uint64_t kNoTick = ~std::uint64_t{0};

  // 16 bytes: every connection and every TIME-WAIT record has one. The slot is not kept:
  // it is the expiry's base-64 digit at the node's level.
  static constexpr std::uint64_t kMaxExpiry = (std::uint64_t{1} << 56) - 1;  // ticks: 2 million years
  struct Node {
    std::uint64_t expiry : 56 = 0;  // in ticks
    std::uint64_t level : 8 = kUnlinked;
    std::uint32_t prev = kNil;
    std::uint32_t next = kNil;
  };
  static int slot_of(const Node& n) { return static_cast<int>((n.expiry >> (6 * n.level)) & 63); }

  // The nodes, by id, in fixed chunks: a wheel of a million timers never copies itself as
  // it grows, nor leaves freed copies behind in the allocator.
  class Nodes {
   public:
    Node& operator[](std::uint32_t id) { return (*chunks_[id >> kShift])[id & kMask]; }
    const Node& operator[](std::uint32_t id) const { return (*chunks_[id >> kShift])[id & kMask]; }
    std::size_t size() const { return chunks_.size() << kShift; }
    void grow_to(std::size_t n) {
      while (size() < n) chunks_.push_back(std::make_unique<Chunk>());
    }

   private:
    static constexpr std::uint32_t kShift = 10;  // 1024 nodes, 16 KiB
    static constexpr std::uint32_t kMask = (1u << kShift) - 1;
    using Chunk = std::array<Node, std::size_t{1} << kShift>;
    std::vector<std::unique_ptr<Chunk>> chunks_;
  };

  static std::uint64_t tick_floor(Instant t);
  static std::uint64_t tick_ceil(Instant t);
  void link(std::uint32_t id, std::uint64_t expiry);
  void unlink(std::uint32_t id);
  std::uint32_t detach_slot(int level, int slot);
  std::uint64_t next_tick() const;
  int lowest_level() const;

  Nodes nodes_;
  std::array<std::array<std::uint32_t, kSlots>, kLevels> heads_;
  std::array<std::uint64_t, kLevels> occupied_{};
  std::uint64_t current_ = 0;
  std::size_t count_ = 0;
};

}  // namespace synfin::stack

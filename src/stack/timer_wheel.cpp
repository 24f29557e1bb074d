// The hierarchical timing wheel. See timer_wheel.hpp.
#include "stack/timer_wheel.hpp"

#include <algorithm>
#include <bit>

namespace synfin::stack {

TimerWheel::TimerWheel(Instant start) : current_(tick_floor(start)) {
  for (auto& level : heads_) level.fill(kNil);
}

std::uint64_t TimerWheel::tick_floor(Instant t) {
  const std::int64_t us = to_us(t);
  return us <= 0 ? 0 : static_cast<std::uint64_t>(us / kTickUs);
}

std::uint64_t TimerWheel::tick_ceil(Instant t) {
  const std::int64_t us = to_us(t);
  return us <= 0 ? 0 : static_cast<std::uint64_t>((us + kTickUs - 1) / kTickUs);
}

void TimerWheel::schedule(std::uint32_t id, Instant deadline) {
  if (id >= nodes_.size()) nodes_.grow_to(static_cast<std::size_t>(id) + 1);
  if (deadline == kNever) {
    cancel(id);
    return;
  }
  std::uint64_t expiry = std::min(tick_ceil(deadline), kMaxExpiry);
  if (expiry < current_) expiry = current_;
  Node& n = nodes_[id];
  if (n.level != kUnlinked) {
    if (n.expiry == expiry) return;
    unlink(id);
  }
  link(id, expiry);
}

void TimerWheel::cancel(std::uint32_t id) {
  if (id < nodes_.size() && nodes_[id].level != kUnlinked) unlink(id);
}

void TimerWheel::link(std::uint32_t id, std::uint64_t expiry) {
  Node& n = nodes_[id];
  n.expiry = expiry;
  const std::uint64_t diff = expiry ^ current_;
  int level = 0;
  if (diff != 0) level = (63 - std::countl_zero(diff)) / 6;
  if (level >= kLevels) {
    level = kLevels - 1;  // beyond the range: parked at the top, moved down in time
  }
  const int slot = static_cast<int>((expiry >> (6 * level)) & 63);
  n.level = static_cast<std::uint8_t>(level);
  n.prev = kNil;
  n.next = heads_[level][slot];
  if (n.next != kNil) nodes_[n.next].prev = id;
  heads_[level][slot] = id;
  occupied_[level] |= std::uint64_t{1} << slot;
  ++count_;
}

void TimerWheel::unlink(std::uint32_t id) {
  Node& n = nodes_[id];
  const int slot = slot_of(n);
  if (n.prev != kNil) nodes_[n.prev].next = n.next;
  else heads_[n.level][slot] = n.next;
  if (n.next != kNil) nodes_[n.next].prev = n.prev;
  if (heads_[n.level][slot] == kNil) occupied_[n.level] &= ~(std::uint64_t{1} << slot);
  n.level = kUnlinked;
  n.prev = n.next = kNil;
  --count_;
}

std::uint32_t TimerWheel::detach_slot(int level, int slot) {
  const std::uint32_t head = heads_[level][slot];
  heads_[level][slot] = kNil;
  occupied_[level] &= ~(std::uint64_t{1} << slot);
  return head;
}

int TimerWheel::lowest_level() const {
  for (int l = 0; l < kLevels; ++l)
    if (occupied_[l] != 0) return l;
  return -1;
}

std::uint64_t TimerWheel::next_tick() const {
  const int l = lowest_level();
  if (l < 0) return kNoTick;
  const int shift = 6 * l;
  const int digit = static_cast<int>((current_ >> shift) & 63);
  // Level 0 holds timers due at or after the current tick; higher levels hold slots strictly
  // after the current digit, except the top level, which may also hold far-future timers in
  // slots at or before it.
  std::uint64_t mask = occupied_[l];
  const std::uint64_t ahead = l == 0 ? (mask >> digit) : (digit == 63 ? 0 : (mask >> (digit + 1)));
  std::uint64_t base = (l + 1 < kLevels) ? (current_ >> (shift + 6)) << (shift + 6) : 0;
  if (l == kLevels - 1 && ahead == 0) {
    // Wrapped at the top: the next slot lies in the next top-level revolution.
    const int s = std::countr_zero(mask);
    const std::uint64_t span = std::uint64_t{1} << (shift + 6);
    const std::uint64_t rev = (current_ >> (shift + 6)) + 1;
    return rev * span + (static_cast<std::uint64_t>(s) << shift);
  }
  if (ahead == 0) return kNoTick;  // cannot happen by the invariant
  const int s = l == 0 ? digit + std::countr_zero(ahead) : digit + 1 + std::countr_zero(ahead);
  if (l == kLevels - 1) base = (current_ >> (shift + 6)) << (shift + 6);
  return base + (static_cast<std::uint64_t>(s) << shift);
}

Instant TimerWheel::next_deadline() const {
  const std::uint64_t t = next_tick();
  if (t == kNoTick) return kNever;
  return Instant{Duration{static_cast<std::int64_t>(t) * kTickUs}};
}

}  // namespace synfin::stack

// A byte ring buffer with a fixed capacity whose memory is allocated on first use and can be
// released when it empties, so that an idle connection holds no buffer (DESIGN principle 6).
// Bytes past the readable region can be written ahead (out-of-order data) and made readable
// later with commit().
//
// The capacity bounds what the buffer holds; the memory behind it is a power of two, and
// positions wrap at the memory's size, so wrapping is a mask. The memory starts small (a
// 100-byte request needs no 64 KiB) and doubles when bytes need more room, up to the power of
// two that holds the capacity; once released, the next allocation has the size the last one
// reached. Raising the capacity (auto-tuning does it in small steps) moves no byte.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

namespace synfin::storage {

// Memory that emptied buffers gave back, kept for the next buffer that needs a block of the
// same size. A bulk transfer empties and refills its buffers all the time, and short
// connections each take a small block and give it back within a round trip: memory returned
// to the allocator would be handed back to the system and faulted in again each time (at
// 200,000 connection lifetimes this was over half the time of `synfin bench connrate`).
// Blocks are kept by size, the last one given taken first (its lines are the likeliest to
// be in cache), up to a byte budget per stack, so idle connections still cost no buffer
// (DESIGN principle 6) and the cache never holds more than the budget.
class BufferCache {
 public:
  static constexpr std::size_t kMaxBytes = 16u << 20;

  std::unique_ptr<std::uint8_t[]> take(std::uint32_t size) {
    if (!std::has_single_bit(size)) return nullptr;
    auto& list = lists_[std::countr_zero(size)];
    if (list.empty()) return nullptr;
    auto data = std::move(list.back());
    list.pop_back();
    bytes_ -= size;
    --count_;
    return data;
  }
  // Keeps the block if it fits in the budget, else frees it.
  void give(std::unique_ptr<std::uint8_t[]> data, std::uint32_t size) {
    if (!data || !std::has_single_bit(size) || bytes_ + size > kMaxBytes) return;
    lists_[std::countr_zero(size)].push_back(std::move(data));
    bytes_ += size;
    ++count_;
  }
  std::size_t blocks() const { return count_; }
  std::size_t bytes() const { return bytes_; }

 private:
  std::array<std::vector<std::unique_ptr<std::uint8_t[]>>, 32> lists_;  // by log2 of the size
  std::size_t bytes_ = 0;
  std::size_t count_ = 0;
};

class RingBuffer {
 public:
  RingBuffer() = default;
  explicit RingBuffer(std::uint32_t capacity) : capacity_(capacity), memory_(first_memory(capacity)) {}

  std::uint32_t capacity() const { return capacity_; }
  std::uint32_t size() const { return size_; }
  std::uint32_t free_space() const { return capacity_ - size_; }
  bool empty() const { return size_ == 0; }
  bool allocated() const { return data_ != nullptr; }

  // Changes the capacity; allowed only while empty.
  bool set_capacity(std::uint32_t capacity) {
    if (size_ != 0) return false;
    release();
    capacity_ = capacity;
    memory_ = first_memory(capacity);
    return true;
  }

  // Appends as much of `bytes` as fits; returns the count appended.
  std::uint32_t write(std::span<const std::uint8_t> bytes) {
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(bytes.size(), free_space()));
    copy_in(size_, bytes.first(n));
    size_ += n;
    return n;
  }

  // Writes bytes at `offset` past the readable end without making them readable; the part
  // that does not fit in the capacity is cut off. Returns the count written.
  std::uint32_t write_ahead(std::uint32_t offset, std::span<const std::uint8_t> bytes) {
    if (offset >= free_space()) return 0;
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(bytes.size(), free_space() - offset));
    copy_in(size_ + offset, bytes.first(n));
    return n;
  }

  // Makes `n` bytes written ahead readable.
  void commit(std::uint32_t n) { size_ += std::min(n, free_space()); }

  // Copies up to out.size() bytes starting at `offset` into out; returns the count.
  std::uint32_t peek(std::uint32_t offset, std::span<std::uint8_t> out) const {
    if (offset >= size_) return 0;
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), size_ - offset));
    if (n == 0) return 0;
    auto [a, b] = slices(offset, n);
    std::memcpy(out.data(), a.data(), a.size());
    if (!b.empty()) std::memcpy(out.data() + a.size(), b.data(), b.size());
    return n;
  }

  // Removes up to n bytes from the front.
  std::uint32_t consume(std::uint32_t n) {
    n = std::min(n, size_);
    head_ = wrap(head_ + n);
    size_ -= n;
    // head_ stays put even when empty: bytes written ahead are placed relative to it.
    return n;
  }

  std::uint32_t read(std::span<std::uint8_t> out) { return consume(peek(0, out)); }

  // The readable bytes [offset, offset + n) as at most two contiguous spans.
  std::pair<std::span<const std::uint8_t>, std::span<const std::uint8_t>> slices(
      std::uint32_t offset, std::uint32_t n) const {
    if (n == 0 || data_ == nullptr) return {};
    const std::uint32_t start = wrap(head_ + offset);
    const std::uint32_t first = std::min(n, memory_ - start);
    return {std::span<const std::uint8_t>(data_.get() + start, first),
            std::span<const std::uint8_t>(data_.get(), n - first)};
  }

  // Raises the capacity, keeping every byte: readable and written ahead alike.
  void grow(std::uint32_t capacity) {
    if (capacity > capacity_) capacity_ = capacity;
  }

  // Frees the memory if nothing is stored (nor written ahead: the caller knows), into
  // `cache` if one is given.
  void release(BufferCache* cache = nullptr) {
    if (size_ == 0) {
      if (cache != nullptr && data_) cache->give(std::move(data_), memory_);
      data_.reset();
      head_ = 0;
    }
  }

  // Before a write: memory from the cache for a buffer that has none, if it holds a block
  // of the size the buffer would allocate.
  void reserve_from(BufferCache* cache) {
    if (!data_ && cache != nullptr && memory_ != 0) data_ = cache->take(memory_);
  }

 private:
  static constexpr std::uint32_t kFirstMemory = 4096;

  // The memory that holds a capacity: the next power of two (capacities above 2^31 are not
  // used by TCP, whose windows stop at 2^30).
  static std::uint32_t memory_for(std::uint32_t capacity) {
    return capacity <= 1 ? capacity : std::bit_ceil(std::min(capacity, 1u << 31));
  }
  static std::uint32_t first_memory(std::uint32_t capacity) { return std::min(memory_for(capacity), kFirstMemory); }
  std::uint32_t wrap(std::uint32_t i) const { return i & (memory_ - 1); }

  // Makes the memory hold positions [head, head + extent), keeping every byte in it.
  void make_room(std::uint32_t extent) {
    if (extent <= memory_) return;
    const std::uint32_t memory = std::max(std::bit_ceil(extent), memory_ * 2);
    if (data_) {
      auto bigger = std::make_unique_for_overwrite<std::uint8_t[]>(memory);
      const std::uint32_t first = memory_ - head_;
      std::memcpy(bigger.get(), data_.get() + head_, first);
      std::memcpy(bigger.get() + first, data_.get(), head_);
      data_ = std::move(bigger);
      head_ = 0;
    }
    memory_ = memory;
  }

  void copy_in(std::uint32_t offset, std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return;
    const auto n = static_cast<std::uint32_t>(bytes.size());
    make_room(offset + n);  // within the capacity, so within memory_for(capacity_)
    if (!data_) data_ = std::make_unique_for_overwrite<std::uint8_t[]>(memory_);
    const std::uint32_t start = wrap(head_ + offset);
    const std::uint32_t first = std::min(n, memory_ - start);
    std::memcpy(data_.get() + start, bytes.data(), first);
    if (first < n) std::memcpy(data_.get(), bytes.data() + first, n - first);
  }

  std::unique_ptr<std::uint8_t[]> data_;
  std::uint32_t capacity_ = 0;
  std::uint32_t memory_ = 0;  // bytes behind data_ (or the next allocation): a power of two
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace synfin::storage

// Socket handles: an index and a generation. A handle outlives nothing: once its connection
// is gone and the slot reused, the generation no longer matches and calls fail cleanly.
#pragma once

#include <cstdint>

namespace synfin {

struct Handle {
  std::uint32_t index = 0xffffffffu;
  std::uint32_t generation = 0;

  constexpr bool valid() const { return index != 0xffffffffu; }
  friend constexpr bool operator==(Handle, Handle) = default;
};

}  // namespace synfin

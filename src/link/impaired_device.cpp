// The impairing wrapper. See impaired_device.hpp.
#include "link/impaired_device.hpp"

#include <fmt/format.h>

namespace synfin::link {

ImpairedDevice::ImpairedDevice(std::unique_ptr<Device> inner, const Impairments& towards_kernel,
                               const Impairments& towards_stack, std::uint64_t seed)
    : inner_(std::move(inner)), link_(towards_kernel, towards_stack, seed) {}

std::size_t ImpairedDevice::receive(Instant now, const Deliver& deliver, std::size_t max_packets, bool& more) {
  const std::size_t n = inner_->receive(
      now, [&](std::span<const std::uint8_t> p) { link_.send(SimLink::B, p, now); }, max_packets, more);
  poll(now, deliver);
  return n;
}

void ImpairedDevice::send(std::span<const std::uint8_t> packet, Instant now) {
  // Only queued here: the loop calls poll() after the stack's transmit, so the stack is
  // never re-entered from inside its own transmit().
  link_.send(SimLink::A, packet, now);
}

void ImpairedDevice::poll(Instant now, const Deliver& deliver) {
  link_.deliver(now, [&](SimLink::Side to, std::span<const std::uint8_t> p, Instant) {
    if (to == SimLink::A) {
      deliver(p);
    } else {
      inner_->send(p, now);
    }
  });
}

std::string ImpairedDevice::describe() const {
  return inner_->describe() + " with impairments";
}

}  // namespace synfin::link

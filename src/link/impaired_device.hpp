// A device wrapper that puts the simulator's fault injector (SimLink) between the stack and a
// real device, in both directions: loss, delay, jitter, reordering, duplication, corruption
// and a rate limit, with a seed, for machines where the kernel has no netem. Delayed packets
// wait in the link until their due time; next_deadline() tells the event loop when that is.
#pragma once

#include <memory>

#include "link/device.hpp"
#include "link/sim_link.hpp"

namespace synfin::link {

class ImpairedDevice final : public Device {
 public:
  // `towards_kernel` acts on what the stack sends, `towards_stack` on what the kernel sends.
  ImpairedDevice(std::unique_ptr<Device> inner, const Impairments& towards_kernel,
                 const Impairments& towards_stack, std::uint64_t seed);

  int fd() const override { return inner_->fd(); }
  std::size_t receive(Instant now, const Deliver& deliver, std::size_t max_packets, bool& more) override;
  void send(std::span<const std::uint8_t> packet, Instant now) override;
  Instant next_deadline() const override { return link_.next_arrival(); }
  void poll(Instant now, const Deliver& deliver) override;
  const DeviceStats& stats() const override { return inner_->stats(); }
  std::string describe() const override;

  const LinkStats& towards_kernel() const { return link_.stats_towards(SimLink::B); }
  const LinkStats& towards_stack() const { return link_.stats_towards(SimLink::A); }
  Device& inner() { return *inner_; }

 private:
  std::unique_ptr<Device> inner_;
  SimLink link_;  // side A: the stack; side B: the kernel
};

}  // namespace synfin::link

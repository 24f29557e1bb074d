// A packet device as the runtime sees it: something that hands over the IP packets the
// other side sent and takes the packets the stack sends. The Linux TUN device and the
// impairing wrapper around it implement it; the event loop drives any of them.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "synfin/time.hpp"

namespace synfin::link {

struct DeviceStats {
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t read_batches = 0;
  std::uint64_t write_drops = 0;  // the kernel refused a packet (queue full, link down)
  std::uint64_t write_errors = 0;
};

class Device {
 public:
  using Deliver = std::function<void(std::span<const std::uint8_t> packet)>;

  virtual ~Device() = default;

  // The descriptor to wait on for readability; -1 if there is none.
  virtual int fd() const = 0;
  // Reads up to `max_packets` packets that are waiting (without blocking) and hands every
  // packet that is due by `now` to `deliver`. Returns the number read from the underlying
  // device; `more` is set when the batch limit stopped the reading early.
  virtual std::size_t receive(Instant now, const Deliver& deliver, std::size_t max_packets,
                              bool& more) = 0;
  // Sends one packet towards the other side (a wrapper may hold it back).
  virtual void send(std::span<const std::uint8_t> packet, Instant now) = 0;
  // When the device next has something to do without being woken by its descriptor (a
  // delayed packet falls due); kNever if nothing.
  virtual Instant next_deadline() const { return kNever; }
  // Releases whatever has fallen due by `now` (both directions).
  virtual void poll(Instant now, const Deliver& deliver) {
    (void)now;
    (void)deliver;
  }
  virtual const DeviceStats& stats() const = 0;
  virtual std::string describe() const = 0;
};

}  // namespace synfin::link

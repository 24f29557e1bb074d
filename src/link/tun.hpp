// The Linux TUN device (IFF_TUN | IFF_NO_PI): each read() is one IP packet from the kernel,
// each write() hands one IP packet to it. Non-blocking; the event loop reads in batches.
// Opening it explains what went wrong in words a user can act on: no /dev/net/tun, no
// right to open it, no right to create the device, a name taken by something else.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "link/device.hpp"
#include "synfin/result.hpp"
#include "wire/ipv4.hpp"

namespace synfin::link {

struct TunOptions {
  std::string name = "synfin0";
  // Set the device's MTU (0: leave it as it is).
  std::uint16_t mtu = 0;
  // Give the kernel's side of the device this address (optional; needs CAP_NET_ADMIN).
  std::optional<wire::Ipv4Addr> kernel_addr;
  std::uint8_t kernel_prefix = 24;
  // Bring the link up if it is down.
  bool bring_up = true;
  // Raise the device's queue towards us to at least this many packets (best effort).
  std::uint32_t min_txqueuelen = 4096;
  std::string device_path = "/dev/net/tun";
};

class TunDevice final : public Device {
 public:
  static Result<std::unique_ptr<TunDevice>, std::string> open(const TunOptions& opts);
  ~TunDevice() override;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  int fd() const override { return fd_; }
  std::size_t receive(Instant now, const Deliver& deliver, std::size_t max_packets, bool& more) override;
  void send(std::span<const std::uint8_t> packet, Instant now) override;
  const DeviceStats& stats() const override { return stats_; }
  std::string describe() const override;

  const std::string& name() const { return name_; }
  std::uint16_t mtu() const { return mtu_; }
  // True when this process created the device (it disappears when the process exits).
  bool created() const { return created_; }
  // The last write error, for a one-time warning.
  int last_write_errno() const { return last_write_errno_; }

 private:
  TunDevice() = default;
  int fd_ = -1;
  std::string name_;
  std::uint16_t mtu_ = 1500;
  bool created_ = false;
  int last_write_errno_ = 0;
  bool warned_ = false;
  std::vector<std::uint8_t> buf_;
  DeviceStats stats_;
};

}  // namespace synfin::link

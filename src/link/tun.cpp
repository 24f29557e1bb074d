// The Linux TUN device. See tun.hpp.
#include "link/tun.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace synfin::link {

namespace {

// A socket to run interface ioctls on; closed on scope exit.
struct IoctlSocket {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ~IoctlSocket() {
    if (fd >= 0) ::close(fd);
  }
};

ifreq make_ifreq(const std::string& name) {
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
  return ifr;
}

std::string why_not_allowed(const std::string& what) {
  return fmt::format("{}: permission denied. Run as root, give the program CAP_NET_ADMIN "
                     "(sudo setcap cap_net_admin+ep /path/to/synfin), or use a device created "
                     "beforehand for your user (sudo ip tuntap add dev NAME mode tun user $USER)",
                     what);
}

Result<bool, std::string> configure(const std::string& name, const TunOptions& o, std::uint16_t& mtu) {
  IoctlSocket s;
  if (s.fd < 0) return fail(fmt::format("cannot open a socket to configure {}: {}", name, std::strerror(errno)));
  if (o.mtu != 0) {
    ifreq ifr = make_ifreq(name);
    ifr.ifr_mtu = o.mtu;
    if (::ioctl(s.fd, SIOCSIFMTU, &ifr) < 0) {
      return fail(errno == EPERM ? why_not_allowed("setting the MTU of " + name)
                                 : fmt::format("cannot set the MTU of {} to {}: {}", name, o.mtu, std::strerror(errno)));
    }
  }
  if (o.kernel_addr) {
    ifreq ifr = make_ifreq(name);
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(o.kernel_addr->value);
    if (::ioctl(s.fd, SIOCSIFADDR, &ifr) < 0) {
      return fail(errno == EPERM ? why_not_allowed("setting the kernel's address on " + name)
                                 : fmt::format("cannot give {} the address {}: {}", name,
                                               o.kernel_addr->to_string(), std::strerror(errno)));
    }
    ifreq mask = make_ifreq(name);
    auto* m = reinterpret_cast<sockaddr_in*>(&mask.ifr_netmask);
    m->sin_family = AF_INET;
    m->sin_addr.s_addr = htonl(o.kernel_prefix == 0 ? 0 : ~0u << (32 - o.kernel_prefix));
    if (::ioctl(s.fd, SIOCSIFNETMASK, &mask) < 0) {
      return fail(fmt::format("cannot set the netmask of {}: {}", name, std::strerror(errno)));
    }
  }
  if (o.bring_up) {
    ifreq ifr = make_ifreq(name);
    if (::ioctl(s.fd, SIOCGIFFLAGS, &ifr) < 0) {
      return fail(fmt::format("cannot read the flags of {}: {}", name, std::strerror(errno)));
    }
    if ((ifr.ifr_flags & IFF_UP) == 0) {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      if (::ioctl(s.fd, SIOCSIFFLAGS, &ifr) < 0) {
        return fail(errno == EPERM ? why_not_allowed("bringing " + name + " up")
                                   : fmt::format("cannot bring {} up: {}", name, std::strerror(errno)));
      }
    }
  }
  {
    // The kernel queues packets for us in a ring of txqueuelen packets and drops beyond it.
    // While we write a burst of data, it answers with a burst of ACKs: a short ring loses
    // them, and lost ACKs become retransmission timeouts. Best effort: needs CAP_NET_ADMIN.
    ifreq q = make_ifreq(name);
    if (::ioctl(s.fd, SIOCGIFTXQLEN, &q) == 0 && q.ifr_qlen < static_cast<int>(o.min_txqueuelen)) {
      q.ifr_qlen = static_cast<int>(o.min_txqueuelen);
      (void)::ioctl(s.fd, SIOCSIFTXQLEN, &q);
    }
  }
  {
    // Attaching turns the carrier on, but the kernel activates the device's transmit queue
    // only when its link-watch work runs, which may be up to a second later; until then what
    // the kernel sends us (the answer to our first SYN) is dropped. Wait for the device to
    // report itself running (bounded), then a moment more for the queue.
    for (int i = 0; i < 300; ++i) {
      ifreq f = make_ifreq(name);
      if (::ioctl(s.fd, SIOCGIFFLAGS, &f) != 0 || (f.ifr_flags & IFF_UP) == 0) break;
      if ((f.ifr_flags & IFF_RUNNING) != 0) {
        if (i > 0) ::usleep(20000);
        break;
      }
      ::usleep(10000);
    }
  }
  ifreq ifr = make_ifreq(name);
  if (::ioctl(s.fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 68 && ifr.ifr_mtu <= 65535) {
    mtu = static_cast<std::uint16_t>(ifr.ifr_mtu);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TunDevice>, std::string> TunDevice::open(const TunOptions& o) {
  if (o.name.empty() || o.name.size() >= IFNAMSIZ || o.name.find_first_of("/ \t\n:") != std::string::npos) {
    return fail(fmt::format("'{}' is not a valid interface name (1 to {} characters, no '/', ':' or spaces)",
                            o.name, IFNAMSIZ - 1));
  }
  const int fd = ::open(o.device_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV) {
      return fail(fmt::format("{} does not exist: this kernel has no TUN support loaded, or the container "
                              "was started without the device (try 'modprobe tun', or run the container "
                              "with --device /dev/net/tun)",
                              o.device_path));
    }
    if (e == EACCES || e == EPERM) return fail(why_not_allowed("opening " + o.device_path));
    return fail(fmt::format("cannot open {}: {}", o.device_path, std::strerror(e)));
  }
  const bool existed = ::if_nametoindex(o.name.c_str()) != 0;
  ifreq ifr = make_ifreq(o.name);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    ::close(fd);
    if (e == EPERM || e == EACCES) {
      return fail(why_not_allowed(existed ? "attaching to the TUN device " + o.name
                                          : "creating the TUN device " + o.name));
    }
    if (e == EBUSY) return fail(fmt::format("the TUN device {} is already in use by another process", o.name));
    if (e == EINVAL && existed) {
      return fail(fmt::format("{} exists but is not a TUN device in tun mode (a tap device, a multi-queue "
                              "device or another kind of interface); pick another name",
                              o.name));
    }
    return fail(fmt::format("cannot attach to the TUN device {}: {}", o.name, std::strerror(e)));
  }
  std::unique_ptr<TunDevice> dev(new TunDevice());
  dev->fd_ = fd;
  dev->name_ = ifr.ifr_name;
  dev->created_ = !existed;
  auto c = configure(dev->name_, o, dev->mtu_);
  if (!c) return fail(c.error());
  dev->buf_.resize(65536);
  return dev;
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t TunDevice::receive(Instant, const Deliver& deliver, std::size_t max_packets, bool& more) {
  more = false;
  std::size_t n = 0;
  while (n < max_packets) {
    const ssize_t r = ::read(fd_, buf_.data(), buf_.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: drained; anything else: the next wake-up tries again
    }
    if (r == 0) break;
    ++n;
    ++stats_.packets_in;
    stats_.bytes_in += static_cast<std::uint64_t>(r);
    deliver(std::span<const std::uint8_t>(buf_.data(), static_cast<std::size_t>(r)));
  }
  if (n == max_packets) more = true;
  if (n > 0) ++stats_.read_batches;
  return n;
}

void TunDevice::send(std::span<const std::uint8_t> packet, Instant) {
  while (true) {
    const ssize_t r = ::write(fd_, packet.data(), packet.size());
    if (r >= 0) {
      ++stats_.packets_out;
      stats_.bytes_out += packet.size();
      return;
    }
    if (errno == EINTR) continue;
    last_write_errno_ = errno;
    if (errno == EAGAIN || errno == ENOBUFS || errno == EIO) {
      ++stats_.write_drops;  // like a full queue or a link that is down: TCP recovers
    } else {
      ++stats_.write_errors;
    }
    if (!warned_) {
      warned_ = true;
      std::fprintf(stderr, "synfin: writing to %s failed: %s%s (counted; later failures are silent)\n",
                   name_.c_str(), std::strerror(last_write_errno_),
                   last_write_errno_ == EIO ? " (is the link down?)" : "");
    }
    return;
  }
}

std::string TunDevice::describe() const {
  return fmt::format("TUN device {} (MTU {}{})", name_, mtu_, created_ ? ", created by synfin" : "");
}

}  // namespace synfin::link

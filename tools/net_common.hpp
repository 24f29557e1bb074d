// What `synfin serve`, `synfin get` and `synfin nc` share: the options that put a synfin
// stack on a TUN device (--tun, --addr, --mtu, --kernel-addr, --impair, --pcap), the TCP
// options offered in the handshake (--wscale, --timestamps, --sack: RFC 7323, RFC 2018) and
// the congestion control (--cc: RFC 9438, RFC 5681), and the object that owns the stack, the
// device and the event loop built from them.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "link/impaired_device.hpp"
#include "link/pcap.hpp"
#include "link/tun.hpp"
#include "runtime/event_loop.hpp"
#include "synfin/result.hpp"
#include "synfin/stack.hpp"

namespace synfin::tools {

struct NetOptions {
  std::string tun = "synfin0";
  std::string addr;         // A.B.C.D/P: synfin's own address on the device
  std::string kernel_addr;  // A.B.C.D: give the kernel's side this address (optional)
  int mtu = 0;              // 0: the device's MTU
  std::string impair;
  std::string pcap;
  std::string trace;
  std::string max_window;   // cap on receive-buffer auto-tuning (empty: the stack's default)
  std::uint32_t send_buffer = 256 * 1024;
  bool stats = false;
  // TcpConfig's window_scaling, timestamps, sack and congestion ("on"/"off", "cubic"/"newreno";
  // CLI11 checks the values, so open() sees only these).
  std::string wscale = "on";
  std::string timestamps = "on";
  std::string sack = "on";
  std::string cc = "cubic";
};

void add_net_options(CLI::App* cmd, NetOptions& o);

// Exit statuses shared by the network commands.
inline constexpr int kExitSetup = 1;        // bad options, no TUN device, ...
inline constexpr int kExitRefused = 3;
inline constexpr int kExitReset = 4;        // reset, or closed before the end
inline constexpr int kExitTimeout = 5;
inline constexpr int kExitBadResponse = 6;
inline constexpr int kExitHttpError = 8;    // a complete response with status >= 400
inline constexpr int kExitInterrupted = 130;

class NetContext {
 public:
  static Result<std::unique_ptr<NetContext>, std::string> open(const NetOptions& o);
  ~NetContext();

  Stack& stack() { return *stack_; }
  runtime::EventLoop& loop() { return *loop_; }
  link::Device& device() { return *device_; }
  Ipv4Addr addr() const { return addr_; }
  std::uint8_t prefix() const { return prefix_; }
  std::string describe() const;
  // Counters of the stack, the device and the impairments, for --stats.
  void print_stats(std::FILE* f) const;

 private:
  NetContext() = default;
  std::unique_ptr<Stack> stack_;
  std::unique_ptr<link::Device> device_;
  link::TunDevice* tun_ = nullptr;
  link::ImpairedDevice* impaired_ = nullptr;
  std::unique_ptr<runtime::EventLoop> loop_;
  link::PcapWriter pcap_;
  std::FILE* trace_file_ = nullptr;
  std::unique_ptr<TraceSink> trace_;
  Ipv4Addr addr_;
  std::uint8_t prefix_ = 24;
  std::string impair_text_;
  std::string tcp_text_;
};

// "A.B.C.D/P" -> address and prefix length.
Result<std::pair<Ipv4Addr, std::uint8_t>, std::string> parse_cidr(std::string_view text);
// A size with an optional k/M/G suffix (powers of 1024): "64k", "1G", "5000".
Result<std::uint64_t, std::string> parse_size(std::string_view text);

}  // namespace synfin::tools

// A pcap writer (the classic libpcap format, link type RAW: each record is an IP packet),
// readable by Wireshark and tshark. It can tap any device.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "synfin/result.hpp"
#include "synfin/time.hpp"

namespace synfin::link {

class PcapWriter {
 public:
  PcapWriter() = default;
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Opens (truncates) the file and writes the global header; returns an error message.
  Result<bool, std::string> open(const std::string& path);
  bool is_open() const { return f_ != nullptr; }
  void write(std::span<const std::uint8_t> packet, Instant at);
  void close();
  std::uint64_t packets() const { return packets_; }

 private:
  std::FILE* f_ = nullptr;
  std::uint64_t packets_ = 0;
};

}  // namespace synfin::link

// pcap writer. See pcap.hpp. Format: a 24-byte global header (magic 0xa1b2c3d4, version
// 2.4, snaplen, link type 101 = LINKTYPE_RAW), then per packet a 16-byte record header
// (seconds, microseconds, captured length, original length) and the bytes.
#include "link/pcap.hpp"

#include <cerrno>
#include <cstring>

namespace synfin::link {

namespace {
void put32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }  // host order, per magic
void put16(std::uint8_t* p, std::uint16_t v) { std::memcpy(p, &v, 2); }
}  // namespace

PcapWriter::~PcapWriter() { close(); }

Result<bool, std::string> PcapWriter::open(const std::string& path) {
  close();
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr) return fail(std::string("cannot open ") + path + ": " + std::strerror(errno));
  std::uint8_t h[24];
  put32(h, 0xa1b2c3d4u);
  put16(h + 4, 2);
  put16(h + 6, 4);
  put32(h + 8, 0);        // thiszone
  put32(h + 12, 0);       // sigfigs
  put32(h + 16, 262144);  // snaplen
  put32(h + 20, 101);     // LINKTYPE_RAW
  std::fwrite(h, 1, sizeof h, f_);
  return true;
}

void PcapWriter::write(std::span<const std::uint8_t> packet, Instant at) {
  if (f_ == nullptr) return;
  const std::int64_t us = std::max<std::int64_t>(0, to_us(at));
  std::uint8_t r[16];
  put32(r, static_cast<std::uint32_t>(us / 1000000));
  put32(r + 4, static_cast<std::uint32_t>(us % 1000000));
  put32(r + 8, static_cast<std::uint32_t>(packet.size()));
  put32(r + 12, static_cast<std::uint32_t>(packet.size()));
  std::fwrite(r, 1, sizeof r, f_);
  std::fwrite(packet.data(), 1, packet.size(), f_);
  ++packets_;
}

void PcapWriter::close() {
  if (f_ != nullptr) {
    std::fclose(f_);
    f_ = nullptr;
  }
}

}  // namespace synfin::link

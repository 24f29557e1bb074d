// Why an inbound packet or segment was dropped. Every drop is counted under one of these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synfin {

#define SYNFIN_DROP_REASONS(X)                                                          \
  X(ip_truncated, "IPv4 packet shorter than its header")                                \
  X(ip_bad_version, "IP version is not 4")                                              \
  X(ip_bad_header_length, "IPv4 header length field below 20 or past the packet")       \
  X(ip_bad_total_length, "IPv4 total length disagrees with the buffer")                 \
  X(ip_bad_checksum, "IPv4 header checksum mismatch")                                   \
  X(ip_fragment, "IPv4 fragment (no reassembly)")                                       \
  X(ip_not_for_us, "destination is not one of our addresses")                           \
  X(ip_bad_source, "source address is broadcast, multicast or unspecified")             \
  X(ip_unknown_protocol, "IP protocol not handled")                                     \
  X(tcp_truncated, "TCP segment shorter than its header")                               \
  X(tcp_bad_data_offset, "TCP data offset below 5 or past the segment")                 \
  X(tcp_bad_checksum, "TCP checksum mismatch")                                          \
  X(tcp_bad_option_length, "TCP option length 0, 1 or past the header")                 \
  X(tcp_bad_port, "TCP port 0")                                                         \
  X(tcp_not_acceptable, "segment outside the receive window")                           \
  X(tcp_bad_ack, "ACK outside the acceptable range")                                    \
  X(tcp_no_ack, "segment without ACK in a synchronized state")                          \
  X(tcp_paws, "timestamp older than ts_recent (PAWS)")                                  \
  X(tcp_no_timestamp, "no timestamp where timestamps were negotiated (RFC 7323 3.2)")    \
  X(tcp_rst_not_exact, "RST in window but not at RCV.NXT (challenge ACK sent)")          \
  X(tcp_syn_in_window, "SYN in a synchronized state (challenge ACK sent)")              \
  X(tcp_ooo_full, "out-of-order queue full")                                            \
  X(tcp_rcv_buffer_full, "data beyond the receive buffer")                              \
  X(tcp_listen_overflow, "listener queue full")                                         \
  X(tcp_no_socket, "no connection or listener (RST sent)")                              \
  X(tcp_closed_state, "segment for a closed connection")                                \
  X(tcp_unexpected, "segment ignored in this state")                                    \
  X(icmp_malformed, "ICMP message malformed")                                           \
  X(icmp_no_connection, "ICMP error for no known connection")

enum class DropReason : std::uint8_t {
#define SYNFIN_X(name, text) name,
  SYNFIN_DROP_REASONS(SYNFIN_X)
#undef SYNFIN_X
  count_
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

constexpr std::string_view to_string(DropReason r) {
  switch (r) {
#define SYNFIN_X(name, text) \
  case DropReason::name:     \
    return #name;
    SYNFIN_DROP_REASONS(SYNFIN_X)
#undef SYNFIN_X
    case DropReason::count_: break;
  }
  return "unknown";
}

constexpr std::string_view describe(DropReason r) {
  switch (r) {
#define SYNFIN_X(name, text) \
  case DropReason::name:     \
    return text;
    SYNFIN_DROP_REASONS(SYNFIN_X)
#undef SYNFIN_X
    case DropReason::count_: break;
  }
  return "unknown";
}

}  // namespace synfin

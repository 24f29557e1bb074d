// The eleven connection states of RFC 9293 section 3.3.2, and the causes of transitions.
#pragma once

#include <cstdint>
#include <string_view>

namespace synfin {

enum class TcpState : std::uint8_t {
  closed,
  listen,
  syn_sent,
  syn_received,
  established,
  fin_wait_1,
  fin_wait_2,
  close_wait,
  closing,
  last_ack,
  time_wait,
};
inline constexpr int kTcpStateCount = 11;

constexpr std::string_view to_string(TcpState s) {
  switch (s) {
    case TcpState::closed: return "CLOSED";
    case TcpState::listen: return "LISTEN";
    case TcpState::syn_sent: return "SYN_SENT";
    case TcpState::syn_received: return "SYN_RECEIVED";
    case TcpState::established: return "ESTABLISHED";
    case TcpState::fin_wait_1: return "FIN_WAIT_1";
    case TcpState::fin_wait_2: return "FIN_WAIT_2";
    case TcpState::close_wait: return "CLOSE_WAIT";
    case TcpState::closing: return "CLOSING";
    case TcpState::last_ack: return "LAST_ACK";
    case TcpState::time_wait: return "TIME_WAIT";
  }
  return "?";
}

// Synchronized states: the handshake has completed in both directions of sequence space.
constexpr bool is_synchronized(TcpState s) {
  return s != TcpState::closed && s != TcpState::listen && s != TcpState::syn_sent &&
         s != TcpState::syn_received;
}

// Why a connection changed state; carried in trace events.
enum class StateCause : std::uint8_t {
  user_open_active,
  user_open_passive,
  user_close,
  user_abort,
  rcv_syn,
  rcv_syn_ack,
  rcv_ack,
  rcv_fin,
  rcv_rst,
  rcv_data_after_close,
  time_wait_expired,
  retransmit_limit,
  keepalive_limit,
  unread_data_on_close,
  icmp_error,
};

constexpr std::string_view to_string(StateCause c) {
  switch (c) {
    case StateCause::user_open_active: return "active open";
    case StateCause::user_open_passive: return "passive open";
    case StateCause::user_close: return "close";
    case StateCause::user_abort: return "abort";
    case StateCause::rcv_syn: return "SYN received";
    case StateCause::rcv_syn_ack: return "SYN-ACK received";
    case StateCause::rcv_ack: return "ACK received";
    case StateCause::rcv_fin: return "FIN received";
    case StateCause::rcv_rst: return "RST received";
    case StateCause::rcv_data_after_close: return "data after close";
    case StateCause::time_wait_expired: return "2MSL expired";
    case StateCause::retransmit_limit: return "retransmission limit";
    case StateCause::keepalive_limit: return "keep-alive limit";
    case StateCause::unread_data_on_close: return "close with unread data";
    case StateCause::icmp_error: return "ICMP error";
  }
  return "?";
}

}  // namespace synfin

// Configuration of the TCP layer: data with defaults, shared by every connection of a stack.
// Per-connection options (no-delay, keep-alive, user timeout, buffer sizes) start from here.
#pragma once

#include <chrono>
#include <cstdint>

#include "synfin/time.hpp"
#include "tcp/congestion.hpp"
#include "wire/tcp.hpp"

namespace synfin {

using namespace std::chrono_literals;

// How the receiver avoids silly windows (MUST-39 asks for an algorithm, section 3.8.6.2.2
// suggests one). rfc9293: the right edge stays put until it can move by min(RCV.BUFF / 2,
// MSS). bsd: the window is the free space, except that one smaller than min(RCV.BUFF / 4,
// MSS) is announced as zero (FreeBSD and its ancestors); the edge still never moves left.
enum class ReceiverSws : std::uint8_t { rfc9293, bsd };

// What an RST does to a connection in TIME-WAIT. RFC 9293 section 3.10.7.4 closes it;
// RFC 1337 shows that this lets an old duplicate RST cut TIME-WAIT short, and advises
// ignoring it. We ignore it by default, as FreeBSD does.
enum class TimeWaitRst : std::uint8_t { ignore, close };

struct TcpConfig {
  // Buffers (bytes). The receive buffer bounds the advertised window.
  std::uint32_t send_buffer = 64 * 1024;
  std::uint32_t recv_buffer = 64 * 1024;

  // Maximum segment size. The MSS we advertise is mtu - 40 (MUST-67); a peer that sends no
  // MSS option is assumed to accept 536 (MUST-15).
  std::uint16_t mtu = 1500;
  std::uint16_t default_peer_mss = 536;

  // Retransmission timeout (RFC 6298). min_rto 200 ms as Linux does; RFC 6298 suggests 1 s.
  Duration initial_rto = 1s;
  Duration min_rto = 200ms;
  Duration max_rto = 60s;
  Duration clock_granularity = 1ms;

  // Retransmission thresholds (RFC 9293 section 3.8.3). After r1 retransmissions of one
  // segment the application gets a soft error (SHLD-9, SHLD-10); after r2 of retrying the
  // connection is aborted (MUST-20). A SYN keeps trying at least 3 minutes (MUST-23).
  std::uint8_t r1_retransmissions = 3;
  Duration r2_timeout = 300s;
  Duration syn_r2_timeout = 180s;
  // A half-open connection in SYN-RECEIVED gives up after this long.
  Duration syn_received_timeout = 75s;

  // TIME-WAIT lasts 2 * msl (MUST-13).
  Duration msl = 30s;
  TimeWaitRst time_wait_rst = TimeWaitRst::ignore;

  // Keep-alive (section 3.8.4): off by default (MUST-25), idle time at least two hours
  // (MUST-28), configurable (MUST-27), several probes before giving up (MUST-29).
  bool keepalive = false;
  Duration keepalive_idle = 7200s;
  Duration keepalive_interval = 75s;
  std::uint8_t keepalive_probes = 9;

  // ACK delay for in-order data (never 0.5 s or more, MUST-40); 0 acknowledges at once.
  Duration delayed_ack = 40ms;

  // Nagle's algorithm is on unless no_delay is set (SHLD-7, MUST-17).
  bool no_delay = false;
  // Sender silly-window avoidance override timer (section 3.8.6.2.1: 0.1 to 1 s).
  Duration sws_override = 200ms;

  // Congestion control: the algorithm (RFC 9438 CUBIC or RFC 5681 NewReno) and the
  // initial window in segments (RFC 6928).
  CongestionAlgorithm congestion = CongestionAlgorithm::cubic;
  std::uint32_t initial_window_segments = 10;

  // High-performance options, each negotiated in the handshake and used only when both
  // sides offer it: window scaling and timestamps (RFC 7323), SACK (RFC 2018).
  bool window_scaling = true;
  bool timestamps = true;
  bool sack = true;
  // RFC 7323 section 3.2: once timestamps are on, a non-RST segment without one is dropped.
  bool require_timestamps = true;
  // Receive and send buffers grow with the connection's bandwidth-delay product up to these
  // limits (auto-tuning); the window scale we offer is chosen so that max_recv_buffer fits.
  bool auto_tune = true;
  std::uint32_t max_recv_buffer = 4u << 20;
  std::uint32_t max_send_buffer = 4u << 20;
  // Duplicate ACKs (or SACKed segments) that signal a loss (RFC 5681, RFC 6675 DupThresh).
  std::uint8_t dupthresh = 3;

  // --- choices other stacks make, for comparing with them (the pkt runner's profiles) ---
  // RFC 5961 section 3 (RST must hit RCV.NXT exactly) and section 4 (a SYN gets a challenge
  // ACK). false: RFC 793, where any RST in the window resets and a SYN in the window is
  // answered with RST and ends the connection.
  bool rfc5961_rst = true;
  bool rfc5961_syn = true;
  // Drop segments with both SYN and FIN set (FreeBSD's drop_synfin).
  bool drop_syn_fin = false;
  // Round both buffers up to a multiple of the MSS once it is known (FreeBSD's tcp_mss).
  bool round_buffers_to_mss = false;
  // Acknowledge every second segment whatever its size (FreeBSD), instead of every two
  // full-sized segments' worth of bytes.
  bool ack_every_second_segment = false;
  // Added to every RTO computed from samples or backoff (FreeBSD's rexmit_slop).
  Duration rto_slop{};
  ReceiverSws receiver_sws = ReceiverSws::rfc9293;
  // Judge arriving segments against all the free buffer space when it exceeds the window we
  // could announce (an unscaled window tops out at 65535), as the BSDs do; otherwise against
  // the window announced (RCV.WND). A SYN-RECEIVED reached from LISTEN keeps to the window its
  // SYN-ACK announced, as a BSD SYN cache does.
  bool accept_free_space = false;
  // While our FIN is unacknowledged, every ACK we send carries it again (the BSDs); otherwise
  // a plain ACK, as section 3.10.7.4 describes.
  bool resend_fin_with_ack = false;
  // An RST accepted in CLOSING or LAST-ACK, after the application shut its sending side:
  // section 3.10.7.4 only enters CLOSED, and synfin reports no error (the default); Linux
  // and FreeBSD report ECONNRESET to an application that still holds the socket.
  bool reset_after_shutdown_is_error = false;

  // RFC 5961: challenge ACKs (and ACKs to unacceptable segments) per connection per second.
  std::uint16_t challenge_ack_limit = 10;

  // Data carried on a SYN is kept and delivered once the connection is established
  // (RFC 9293 sections 3.10.7.2 and 3.10.7.3); when false it is dropped and left for the
  // peer to resend. The first is for a SYN to a listener, the second for the peer's SYN in
  // SYN-SENT (a simultaneous open): FreeBSD drops the first (its SYN cache keeps no data)
  // and keeps the second; Linux drops both.
  bool accept_syn_data = true;
  bool accept_syn_data_in_syn_sent = true;

  // Option emission order and alignment.
  wire::OptionLayout option_layout = wire::kDefaultLayout;
  // Always send the MSS option on SYNs (MAY-3).
  bool always_send_mss = true;
};

}  // namespace synfin

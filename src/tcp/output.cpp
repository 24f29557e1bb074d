// Sending: data segmentation with Nagle (RFC 896) and sender silly-window avoidance
// (RFC 9293 section 3.8.6.2.1), the receive window with receiver silly-window avoidance
// (section 3.8.6.2.2), ACK generation and delayed ACKs (section 3.8.6.3), SYN and RST.
#include <algorithm>

#include "tcp/connection.hpp"

namespace synfin::tcp {

using namespace wire::tcp_flag;

namespace {
constexpr std::uint32_t kMaxUnscaledWindow = 0xffff;
}

// The window to announce now. The right edge never moves left (SHLD-14), and it moves right
// only by at least min(RCV.BUFF / 2, MSS) at a time (MUST-39).
std::uint16_t Connection::window_to_advertise() {
  const std::uint32_t s = rcv_wscale_;
  const std::uint32_t free = std::min(rcv_buf_.free_space(), kMaxUnscaledWindow << s);
  const std::uint32_t current = rcv_wnd();
  std::uint32_t wnd = current;
  if (cfg_->receiver_sws == ReceiverSws::bsd) {
    wnd = free;
    if (wnd < rcv_buf_.capacity() / 4 && wnd < payload_mss()) wnd = 0;
    wnd = std::max(wnd, current);
  } else {
    const std::uint32_t step = std::min<std::uint32_t>(rcv_buf_.capacity() / 2, rcv_mss_);
    if (free > current && free - current >= step) wnd = free;
  }
  // RFC 7323 section 2.3: the field carries wnd >> shift. Rounding down could pull the
  // right edge left (SHLD-14); then round up instead. The few bytes beyond the buffer that
  // this may offer are cut off on arrival and sent again.
  std::uint32_t field = wnd >> s;
  if ((field << s) < current) field = (current + (1u << s) - 1) >> s;
  field = std::min(field, kMaxUnscaledWindow);
  rcv_adv_ = rcv_nxt_ + (field << s);
  return static_cast<std::uint16_t>(field);
}

void Connection::fill_common(OutSegment& s, Seq seq, std::uint8_t flags, Instant now) {
  s.header.src_port = tuple_.local_port;
  s.header.dst_port = tuple_.remote_port;
  s.header.seq = seq;
  s.header.flags = flags;
  if (flags & ACK) {
    s.header.ack = rcv_nxt_;
    last_ack_sent_ = rcv_nxt_;
    // An ACK goes out now: any delayed or pending one is covered.
    ack_now_ = false;
    ack_delayed_ = false;
    delack_deadline_ = kNever;
    rcv_unacked_bytes_ = 0;
    rcv_unacked_segments_ = 0;
  }
  s.header.window = (flags & RST) ? 0 : window_to_advertise();
  if (flags & RST) return;
  // RFC 7323 section 3.2: once negotiated, every segment but a RST carries timestamps.
  if (ts_ok_ && !(flags & SYN)) {
    s.options.has_timestamps = true;
    s.options.ts_val = ts_now(now);
    s.options.ts_ecr = ts_recent_;
  }
  // RFC 2018 section 4: ACKs carry the SACK blocks while anything is out of order.
  if (sack_ok_ && (flags & ACK) && !(flags & SYN)) add_sack_option(s.options, ts_ok_ ? 3 : 4);
}

void Connection::add_syn_options(wire::TcpOptions& o, bool syn_ack, Instant now) const {
  if (opts_.no_options) return;
  // MUST-14, SHLD-5, MAY-3: our MSS, only ever on a SYN (MUST-65).
  if (cfg_->always_send_mss || rcv_mss_ != 536) {
    o.has_mss = true;
    o.mss = rcv_mss_;
  }
  // A SYN offers what the configuration allows; a SYN-ACK answers only what was offered.
  if (syn_ack ? ws_ok_ : cfg_->window_scaling) {
    o.has_wscale = true;
    o.wscale = syn_ack ? rcv_wscale_ : our_window_scale();
  }
  if (syn_ack ? sack_ok_ : cfg_->sack) o.sack_permitted = true;
  if (syn_ack ? ts_ok_ : cfg_->timestamps) {
    o.has_timestamps = true;
    o.ts_val = ts_now(now);
    o.ts_ecr = syn_ack ? ts_recent_ : 0;  // TSecr is zero when the ACK bit is off
  }
}

void Connection::send_syn(bool with_ack, Instant now) {
  OutSegment s;
  fill_common(s, iss_, with_ack ? (SYN | ACK) : SYN, now);
  // The window of a SYN is never scaled.
  s.header.window = static_cast<std::uint16_t>(std::min(rcv_buf_.free_space(), kMaxUnscaledWindow));
  if (with_ack) rcv_adv_ = rcv_nxt_ + s.header.window;
  add_syn_options(s.options, with_ack, now);
  const bool first = snd_max_ == iss_;
  if (first) {
    snd_nxt_ = iss_ + 1;
    snd_max_ = iss_ + 1;
    rtt_timing_ = true;  // time the handshake (RFC 6298 section 2)
    rtt_seq_ = iss_;
    rtt_time_ = now;
  } else {
    s.retransmission = true;
    ++stats_.retransmissions;
    rtt_timing_ = false;  // Karn
  }
  ++stats_.segments_out;
  host_->emit(*this, s);
  if (rtx_deadline_ == kNever) rtx_deadline_ = now + rtt_.rto();
}

void Connection::send_ack(Instant now) {
  OutSegment s;
  // With only our FIN outstanding, the BSDs send it again with each ACK (a choice; not with
  // challenge ACKs, which are plain).
  if (cfg_->resend_fin_with_ack && !plain_ack_ && fin_sent() && !fin_acked() && snd_una_ == data_end()) {
    fill_common(s, data_end(), ACK | FIN, now);
    ++stats_.segments_out;
    host_->emit(*this, s);
    return;
  }
  fill_common(s, snd_max_, ACK, now);
  if (s.options.sack_count > 0) dsack_pending_ = false;  // reported
  ++stats_.segments_out;
  host_->emit(*this, s);
}

void Connection::send_rst(Seq seq) {
  OutSegment s;
  fill_common(s, seq, RST, Instant{});
  ++stats_.segments_out;
  host_->emit(*this, s);
}

bool Connection::ack_rate_allows(Instant now) {
  Extras& x = extras();
  if (now - x.challenge_window >= 1s) {
    x.challenge_window = now;
    x.challenge_count = 0;
  }
  if (x.challenge_count >= cfg_->challenge_ack_limit) return false;
  ++x.challenge_count;
  return true;
}

void Connection::send_challenge_ack(Instant now) {
  // RFC 5961 section 7: rate-limited, per connection (no global counter to leak state,
  // CVE-2016-5696).
  if (!ack_rate_allows(now)) return;
  ++extras().challenge_acks;
  plain_ack_ = true;
  send_ack(now);
  plain_ack_ = false;
}

void Connection::schedule_ack(bool immediate, Instant now) {
  if (immediate || cfg_->delayed_ack <= Duration::zero()) {
    ack_now_ = true;
    return;
  }
  if (!ack_delayed_) {
    ack_delayed_ = true;
    // MUST-40: never 0.5 s or more.
    delack_deadline_ = now + std::min<Duration>(cfg_->delayed_ack, 499ms);
  }
}

void Connection::maybe_window_update(Instant now) {
  if (!is_synchronized(state_) || fin_received_ || state_ == TcpState::time_wait) return;
  // Announce a reopening window when it has grown by two segments or half the buffer, or
  // when it was closed and now takes a full segment.
  const std::uint32_t current = rcv_wnd();
  const std::uint32_t possible = std::min(rcv_buf_.free_space(), kMaxUnscaledWindow << rcv_wscale_);
  if (possible <= current) return;
  const std::uint32_t growth = possible - current;
  const std::uint32_t threshold = std::min<std::uint32_t>(2u * rcv_mss_, rcv_buf_.capacity() / 2);
  if (growth >= threshold || (current < rcv_mss_ && growth >= rcv_mss_)) {
    send_ack(now);
  }
}

void Connection::emit_data(Seq seq, std::uint32_t len, std::uint8_t extra_flags, bool rtx,
                           Instant now) {
  OutSegment s;
  std::uint8_t flags = ACK | extra_flags;
  const Seq end = data_end();
  if (len > 0 && seq + len == end) flags |= PSH;  // MUST-61: the segment that empties the queue
  if (has_snd_urgent_ && extras_->snd_up > seq) {
    // MUST-31: the pointer may lie beyond this segment; the URG flag marks it until passed.
    flags |= URG;
    s.header.urgent = static_cast<std::uint16_t>(std::min<std::uint32_t>(extras_->snd_up.since(seq), 0xffff));
  }
  fill_common(s, seq, flags, now);
  if (len > 0) {
    auto [a, b] = snd_buf_.slices(seq.since(snd_data_base_), len);
    s.payload = {a, b};
  }
  if (s.options.sack_count > 0) {
    // SACK blocks ride on data only as far as the MSS leaves room for them.
    const std::uint32_t ts_bytes = s.options.has_timestamps ? 12 : 0;
    const std::uint32_t room = snd_mss_ > len + ts_bytes ? snd_mss_ - len - ts_bytes : 0;
    const std::uint32_t fit = room >= 12 ? (room - 4) / 8 : 0;
    if (fit < s.options.sack_count) s.options.sack_count = static_cast<std::uint8_t>(fit);
    if (s.options.sack_count > 0) dsack_pending_ = false;
  }
  s.retransmission = rtx;
  ++stats_.segments_out;
  stats_.bytes_sent += len;
  if (rtx) ++stats_.retransmissions;
  last_sent_at_ = now;
  host_->emit(*this, s);
}

void Connection::arm_retransmit(Instant now) {
  if (rtx_deadline_ == kNever && snd_max_ != snd_una_) restart_retransmit(now);
}

void Connection::output(Instant now) {
  switch (state_) {
    case TcpState::closed:
    case TcpState::listen:
    case TcpState::syn_sent:
      return;
    case TcpState::syn_received:
    case TcpState::time_wait:
    case TcpState::fin_wait_2:
      if (ack_now_) ack_due(now);
      return;
    default:
      break;
  }
  // A FIN queued while still in SYN-RECEIVED waits for the handshake to finish. Once the
  // user has closed (FIN-WAIT-1, and CLOSING or LAST-ACK when the peer's FIN came before the
  // ACK of our SYN), the FIN goes out behind the SYN-ACK.
  const bool may_send = snd_una_ != iss_ || state_ == TcpState::fin_wait_1 ||
                        state_ == TcpState::closing || state_ == TcpState::last_ack;

  // RFC 5681 section 4.1: after an idle period longer than the RTO, restart from the
  // initial window.
  if (snd_max_ == snd_una_ && snd_nxt_ == snd_max_ && last_sent_at_ != Instant{} &&
      now - last_sent_at_ > rtt_.rto()) {
    cc_.on_idle_restart(cfg_->initial_window_segments * payload_mss());
  }

  if (recovery_ == Recovery::sack && may_send) {
    sack_output(now);
    if (ack_now_) ack_due(now);
    return;
  }
  const std::uint32_t mss = payload_mss();
  // RFC 3042 limited transmit: the first two duplicate ACKs may each release one new
  // segment beyond cwnd.
  // Only new data, and not while resending after a timeout.
  const std::uint32_t limited = recovery_ == Recovery::none && dupacks_ > 0 &&
                                        dupacks_ < cfg_->dupthresh && snd_nxt_ == snd_max_
                                    ? dupacks_ * mss
                                    : 0;
  bool sws_force = sws_deadline_ != kNever && now >= sws_deadline_;
  while (may_send) {
    const Seq end = data_end();
    const std::uint32_t unsent = snd_nxt_ < end ? end.since(snd_nxt_) : 0;
    const std::uint32_t wnd = std::min(snd_wnd_, cc_.cwnd() + limited);
    const Seq right = snd_una_ + wnd;
    // MUST-34: a window that shrank below what is in flight leaves nothing usable.
    const std::uint32_t usable = right > snd_nxt_ ? right.since(snd_nxt_) : 0;
    const std::uint32_t len = std::min({unsent, usable, mss});
    const bool fin_due = fin_queued_ && snd_nxt_ <= end && snd_nxt_ + len == end;
    if (len == 0 && !fin_due) break;
    const bool rtx = snd_nxt_ < snd_max_;
    if (len > 0 && !rtx && len < mss && !fin_due) {
      const bool all_queued = len == unsent;
      const bool nagle_ok = opts_.no_delay || snd_max_ == snd_una_;
      const bool half_window = max_snd_wnd_ > 0 && len >= max_snd_wnd_ / 2;
      if (!((all_queued && nagle_ok) || half_window || sws_force)) {
        // Hold it: Nagle waits for the ACK, silly-window avoidance for a bigger window. If
        // nothing is in flight, the override timer makes sure we do not wait forever.
        if (snd_max_ == snd_una_ && sws_deadline_ == kNever && snd_wnd_ > 0) {
          sws_deadline_ = now + cfg_->sws_override;
        }
        break;
      }
    }
    sws_force = false;
    sws_deadline_ = kNever;
    if (snd_una_ == snd_max_) r2_start_ = now;  // data becomes outstanding: R2 starts
    if (!rtx && len > 0 && !rtt_timing_) {
      rtt_timing_ = true;
      rtt_seq_ = snd_nxt_;
      rtt_time_ = now;
    }
    emit_data(snd_nxt_, len, fin_due ? FIN : 0, rtx, now);
    snd_nxt_ += len + (fin_due ? 1u : 0u);
    if (snd_nxt_ > snd_max_) snd_max_ = snd_nxt_;
    arm_retransmit(now);
    if (fin_due) break;
  }

  // Zero window with data waiting and nothing in flight: probe it (MUST-36, SHLD-29).
  const std::uint32_t waiting = snd_nxt_ < data_end() ? data_end().since(snd_nxt_) : 0;
  if (snd_wnd_ == 0 && waiting > 0 && snd_max_ == snd_una_ && persist_deadline_ == kNever) {
    persist_deadline_ = now + rtt_.rto();
    rtx_deadline_ = kNever;
  }
  if (ack_now_) ack_due(now);
}

void Connection::ack_due(Instant now) {
  if (defer_ack_) {
    host_->ack_deferred(*this, now);
  } else {
    send_ack(now);
  }
}

void Connection::send_pending_ack(Instant now) {
  if (ack_now_ && state_ != TcpState::closed && state_ != TcpState::listen &&
      state_ != TcpState::syn_sent) {
    send_ack(now);
  }
}

void ConnectionHost::ack_deferred(Connection& c, Instant now) { c.send_pending_ack(now); }

}  // namespace synfin::tcp

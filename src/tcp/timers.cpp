// Timers: retransmission with exponential backoff and the R1/R2 thresholds (RFC 6298,
// RFC 9293 section 3.8.3), persist probes of a zero window (section 3.8.6.1), keep-alive
// (section 3.8.4), delayed ACK, TIME-WAIT (section 3.6.1), sender SWS override.
#include <algorithm>

#include "tcp/connection.hpp"

namespace synfin::tcp {

using namespace wire::tcp_flag;

Instant Connection::next_deadline() const {
  return std::min({rtx_deadline_, persist_deadline_, delack_deadline_, keepalive_deadline_,
                   time_wait_deadline_, sws_deadline_});
}

void Connection::on_timer(Instant now) {
  if (time_wait_deadline_ <= now) {
    time_wait_deadline_ = kNever;
    host_->timer_fired(*this, TimerKind::time_wait);
    // TIME-WAIT over (MUST-13), or an orphaned FIN-WAIT-2 that waited long enough.
    become_closed(StateCause::time_wait_expired, Error::none);
    return;
  }
  if (rtx_deadline_ <= now) {
    rtx_deadline_ = kNever;
    host_->timer_fired(*this, TimerKind::retransmit);
    on_retransmit_timeout(now);
    if (state_ == TcpState::closed || state_ == TcpState::listen) return;
  }
  if (persist_deadline_ <= now) {
    persist_deadline_ = kNever;
    host_->timer_fired(*this, TimerKind::persist);
    on_persist_timeout(now);
    if (state_ == TcpState::closed) return;
  }
  if (keepalive_deadline_ <= now) {
    keepalive_deadline_ = kNever;
    host_->timer_fired(*this, TimerKind::keepalive);
    on_keepalive_timeout(now);
    if (state_ == TcpState::closed) return;
  }
  if (delack_deadline_ <= now) {
    delack_deadline_ = kNever;
    host_->timer_fired(*this, TimerKind::delayed_ack);
    if (ack_delayed_) ack_now_ = true;
  }
  if (sws_deadline_ <= now) {
    host_->timer_fired(*this, TimerKind::sws);
    output(now);  // sends what the override allows, then clears the deadline
    sws_deadline_ = kNever;
  }
  output(now);
}

Duration Connection::r2_limit() const {
  return opts_.user_timeout > Duration::zero() ? opts_.user_timeout : cfg_->r2_timeout;
}

// When R2 (or the user timeout) runs out for a period that began at `start`; kNever when
// the user asked never to give up (MUST-21).
Instant Connection::r2_deadline(Instant start) const {
  const Duration limit = r2_limit();
  if (limit == ConnectionOptions::kNoTimeout || start == kNever) return kNever;
  if (limit >= kNever - start) return kNever;
  return start + limit;
}

// RFC 6298 section 5.1/5.3: (re)start the timer with the current RTO; never past the moment
// R2 runs out, so that the connection gives up exactly then (RFC 9293 section 3.10.8, USER
// TIMEOUT), not at the next backed-off retransmission. If that moment has already passed (a
// user timeout set shorter than the time already waited), the timer is due now.
void Connection::restart_retransmit(Instant now) {
  rtx_deadline_ = std::max(now, std::min(now + rtt_.rto(), r2_deadline(r2_start_)));
}

void Connection::on_retransmit_timeout(Instant now) {
  if (snd_una_ == snd_max_) return;  // nothing outstanding
  ++extras().timeouts;

  if (snd_una_ == iss_) {
    // The SYN or SYN-ACK is unacknowledged: the same backoff as data (MUST-22), with a
    // limit of its own: at least 3 minutes for a SYN (MUST-23). Besides SYN-SENT and
    // SYN-RECEIVED this is FIN-WAIT-1 (closed before the handshake completed) and, when the
    // peer's SYN carried a FIN, CLOSE-WAIT, CLOSING and LAST-ACK: the SYN goes first whatever
    // the peer's window says, and the FIN after it.
    const Duration syn_limit = opts_.syn_timeout > Duration::zero() ? opts_.syn_timeout : cfg_->syn_r2_timeout;
    const Duration limit = state_ == TcpState::syn_sent ? syn_limit : cfg_->syn_received_timeout;
    const Duration waited = now - opened_at_;
    if (waited >= limit) {
      // Back to LISTEN only while still half-open; a connection the user has closed
      // (FIN-WAIT-1 before the handshake completed) is gone.
      if (passive_open_ && state_ == TcpState::syn_received) {
        return_to_listen(StateCause::retransmit_limit);
      } else {
        become_closed(StateCause::retransmit_limit, Error::timed_out);
      }
      return;
    }
    ++retransmits_;
    if (retransmits_ == cfg_->r1_retransmissions) soft_error(Error::timed_out);  // R1
    syn_retransmitted_ = true;
    rtt_.backoff(*cfg_);
    const Duration next = std::min(rtt_.rto(), limit - waited);
    send_syn(state_ != TcpState::syn_sent, now);
    rtx_deadline_ = now + next;
    if (fin_queued_) {
      snd_nxt_ = iss_ + 1;  // the FIN goes again after the SYN-ACK
      output(now);
    }
    return;
  }

  if (snd_wnd_ == 0 && snd_una_ < data_end()) {
    // What is outstanding lies beyond a closed window: this is probing, not loss. (A FIN
    // alone needs no window: it is retransmitted like data, below.)
    on_persist_timeout(now);
    return;
  }

  if (now >= r2_deadline(r2_start_)) {
    become_closed(StateCause::retransmit_limit, Error::timed_out);  // R2 (MUST-20, MUST-21)
    return;
  }
  ++retransmits_;
  if (retransmits_ == cfg_->r1_retransmissions) soft_error(Error::timed_out);  // R1 (SHLD-9)
  cc_.on_timeout(flight_size(), now);
  // Whatever recovery was under way is over. RFC 6582 section 3.2 step 1: no new fast
  // retransmit until this flight is acknowledged. RFC 2018 section 8: the peer may have
  // reneged, so SACKed data is not trusted after a timeout.
  recovery_ = Recovery::none;
  dupacks_ = 0;
  recover_ = snd_max_;
  have_recover_ = true;
  if (extras_) extras_->scoreboard.clear();
  sacked_bytes_ = 0;
  rtt_.backoff(*cfg_);
  rtt_timing_ = false;  // Karn
  snd_nxt_ = snd_una_;  // go back and resend from the first unacknowledged byte
  output(now);
  arm_retransmit(now);
}

void Connection::on_persist_timeout(Instant now) {
  // MUST-37: as long as the peer answers, probing goes on however long the window stays
  // closed. Only a peer that has said nothing for R2 is given up on.
  if (now >= r2_deadline(last_heard_at_)) {
    become_closed(StateCause::retransmit_limit, Error::timed_out);
    return;
  }
  if (snd_wnd_ != 0) {
    output(now);
    return;
  }
  const Seq end = data_end();
  if (snd_una_ < snd_max_ && snd_una_ < end) {
    // Resend one byte of what is outstanding.
    emit_data(snd_una_, 1, 0, true, now);
  } else if (snd_nxt_ < end) {
    // Push one byte of new data past the closed window.
    rtt_timing_ = false;
    emit_data(snd_nxt_, 1, 0, false, now);
    snd_nxt_ += 1;
    if (snd_nxt_ > snd_max_) snd_max_ = snd_nxt_;
  } else if (fin_sent() && !fin_acked()) {
    emit_data(end, 0, FIN, true, now);  // only our FIN is outstanding: it needs no window
  } else {
    return;  // nothing waits any more
  }
  ++extras().zero_window_probes;
  if (persist_backoff_ < 16) ++persist_backoff_;
  // SHLD-29, SHLD-30: the first probe went one RTO after the window closed; the interval
  // doubles with each probe, up to the maximum RTO.
  Duration interval = rtt_.rto();
  for (int i = 0; i < persist_backoff_ && interval < cfg_->max_rto; ++i) interval *= 2;
  persist_deadline_ = std::max(now, std::min(now + std::min(interval, cfg_->max_rto), r2_deadline(last_heard_at_)));
  rtx_deadline_ = kNever;
}

void Connection::restart_keepalive(Instant now) {
  // Only a connection that is established (or half-closed) is probed.
  if (!opts_.keepalive || !(state_ == TcpState::established || state_ == TcpState::close_wait ||
                            state_ == TcpState::fin_wait_2 || state_ == TcpState::fin_wait_1)) {
    keepalive_deadline_ = kNever;
    return;
  }
  keepalive_deadline_ = now + opts_.keepalive_idle;
}

void Connection::on_keepalive_timeout(Instant now) {
  if (!opts_.keepalive || (state_ != TcpState::established && state_ != TcpState::close_wait &&
                           state_ != TcpState::fin_wait_2)) {
    return;
  }
  // MUST-26: probe only when nothing is outstanding or waiting to be sent.
  if (snd_una_ != snd_max_ || !snd_buf_.empty()) {
    restart_keepalive(now);
    return;
  }
  if (keepalive_sent_ >= opts_.keepalive_probes) {
    // MUST-29: only after every probe went unanswered.
    become_closed(StateCause::keepalive_limit, Error::timed_out);
    return;
  }
  // SHLD-12: no data; SEG.SEQ = SND.NXT - 1 makes the peer answer with an ACK.
  OutSegment s;
  fill_common(s, snd_max_ - 1, ACK, now);
  ++stats_.segments_out;
  ++extras().keepalive_probes;
  ++keepalive_sent_;
  host_->emit(*this, s);
  keepalive_deadline_ = now + opts_.keepalive_interval;
}

}  // namespace synfin::tcp

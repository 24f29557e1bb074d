// Segment arrival, following RFC 9293 section 3.10.7 step by step, with the RFC 5961
// defences (blind RST, SYN and data injection) that section 3.10.7.4 incorporates.
#include <algorithm>

#include "tcp/connection.hpp"

namespace synfin::tcp {

using namespace wire::tcp_flag;

void Connection::on_segment(const wire::TcpSegment& seg, Instant now) {
  ++stats_.segments_in;
  if (cfg_->drop_syn_fin && seg.syn() && seg.fin()) {
    drop(seg, DropReason::tcp_unexpected);  // a configured choice (FreeBSD's drop_synfin)
    return;
  }
  switch (state_) {
    case TcpState::closed:
      closed_arrives(seg);
      return;
    case TcpState::listen:
      listen_arrives(seg, now);
      break;
    case TcpState::syn_sent:
      syn_sent_arrives(seg, now);
      break;
    default:
      synchronized_arrives(seg, now);
      break;
  }
  if (state_ != TcpState::closed && state_ != TcpState::listen) {
    defer_ack_ = true;
    output(now);
    defer_ack_ = false;
  }
}

// --- 3.10.7.1 CLOSED ------------------------------------------------------------------------

void Connection::closed_arrives(const wire::TcpSegment& seg) {
  drop(seg, DropReason::tcp_closed_state);
  OutSegment rst;
  if (reset_for(seg, rst)) {
    ++stats_.segments_out;
    host_->emit(*this, rst);
  }
}

// --- 3.10.7.2 LISTEN ------------------------------------------------------------------------

void Connection::listen_arrives(const wire::TcpSegment& seg, Instant now) {
  if (seg.rst()) {  // first: an incoming RST is ignored
    drop(seg, DropReason::tcp_unexpected);
    return;
  }
  if (seg.ack_flag()) {  // second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST>
    drop(seg, DropReason::tcp_unexpected);
    send_rst(seg.ack);
    return;
  }
  if (!seg.syn()) {  // fourth: anything else is dropped
    drop(seg, DropReason::tcp_unexpected);
    return;
  }
  // third: a SYN.
  tuple_.remote_port = seg.src_port;
  passive_open_ = true;
  opened_at_ = now;
  last_heard_at_ = now;
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  rcv_read_ = rcv_nxt_;
  ts_offset_ = host_->timestamp_offset(tuple_);
  negotiate_options(seg, now);
  iss_ = host_->choose_isn(tuple_, now);
  snd_una_ = iss_;
  snd_nxt_ = iss_;
  snd_max_ = iss_;
  snd_data_base_ = iss_ + 1;
  snd_wnd_ = seg.window;  // the window of a SYN is never scaled (RFC 7323 section 2.2)
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  set_state(TcpState::syn_received, StateCause::rcv_syn);
  queue_syn_text(seg, cfg_->accept_syn_data);
  rcv_adv_ = rcv_nxt_;
  send_syn(true, now);
}

// RFC 9293 section 3.10.7.2 and 3.10.7.3: text (and a FIN) on a SYN is queued "for
// processing later": it is acknowledged only once the connection is established.
void Connection::queue_syn_text(const wire::TcpSegment& syn, bool keep_text) {
  std::uint32_t n = 0;
  if (!syn.payload.empty() && keep_text) {
    rcv_buf_.reserve_from(host_->buffer_cache());
    n = rcv_buf_.write_ahead(0, syn.payload);
    extras().ooo.add(0, n);
  }
  if (syn.fin() && n == syn.payload.size()) {
    fin_pending_ = true;
    fin_seq_ = rcv_nxt_ + n;
  }
}

// --- 3.10.7.3 SYN-SENT ----------------------------------------------------------------------

void Connection::syn_sent_arrives(const wire::TcpSegment& seg, Instant now) {
  bool ack_ok = false;
  if (seg.ack_flag()) {
    // An ACK of something we never sent: an old duplicate (section 3.5, figure 9).
    if (seg.ack <= iss_ || seg.ack > snd_max_) {
      drop(seg, DropReason::tcp_bad_ack);
      if (!seg.rst()) send_rst(seg.ack);
      return;
    }
    ack_ok = true;
  }
  if (seg.rst()) {
    if (!ack_ok) {
      drop(seg, DropReason::tcp_unexpected);
      return;
    }
    notify(EventKind::reset, Error::refused);
    become_closed(StateCause::rcv_rst, Error::refused);
    return;
  }
  if (!seg.syn()) {
    drop(seg, DropReason::tcp_unexpected);
    return;
  }
  last_heard_at_ = now;
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  rcv_read_ = rcv_nxt_;
  rcv_adv_ = rcv_nxt_ + std::min<std::uint32_t>(rcv_buf_.free_space(), 0xffff);
  negotiate_options(seg, now);
  round_buffers_to_mss();
  snd_wnd_ = seg.window;
  max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;

  if (ack_ok) {
    snd_una_ = seg.ack;
    if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
    take_rtt_sample(seg, now);
    rtx_deadline_ = snd_una_ == snd_max_ ? kNever : now + rtt_.rto();
    retransmits_ = 0;
  }
  if (snd_una_ > iss_) {
    establish(now);
    ack_now_ = true;
    // A SYN-ACK may carry data and a FIN (section 3.10.7.3): continue at step six.
    check_urg(seg);
    if (!seg.payload.empty()) process_text(seg.seq + 1, seg.payload, seg.has(PSH), now);
    if (seg.fin() && state_ != TcpState::closed) check_fin(seg.seq + 1 + static_cast<std::uint32_t>(seg.payload.size()), now);
    return;
  }
  // Simultaneous open (MUST-10): answer with <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
  set_state(TcpState::syn_received, StateCause::rcv_syn);
  queue_syn_text(seg, cfg_->accept_syn_data_in_syn_sent);
  rcv_adv_ = rcv_nxt_;
  send_syn(true, now);
}

// --- 3.10.7.4 the other states --------------------------------------------------------------

void Connection::synchronized_arrives(const wire::TcpSegment& seg, Instant now) {
  // A retransmitted SYN in SYN-RECEIVED: our SYN-ACK was lost; send it again.
  if (state_ == TcpState::syn_received && seg.syn() && !seg.ack_flag() && !seg.rst() &&
      seg.seq == irs_) {
    last_heard_at_ = now;
    send_syn(true, now);
    // The SYN-ACK just went out: the retransmission timer starts over from here, so that
    // it does not send another one a moment later.
    if (rtx_deadline_ != kNever) rtx_deadline_ = now + rtt_.rto();
    return;
  }
  // Simultaneous open, RFC 9293 figure 8 line 6: the peer's SYN-ACK repeats the SYN we
  // already have and acknowledges ours. Its SYN is old news; its ACK completes the
  // handshake (Linux does the same).
  if (state_ == TcpState::syn_received && !passive_open_ && seg.syn() && seg.ack_flag() &&
      !seg.rst() && seg.seq == irs_ && snd_una_ < seg.ack && seg.ack <= snd_max_) {
    wire::TcpSegment stripped = seg;
    stripped.flags &= static_cast<std::uint8_t>(~SYN);
    stripped.seq = irs_ + 1;
    synchronized_arrives(stripped, now);
    return;
  }
  // RFC 7323 section 5.3, R1 (before the acceptability test): PAWS. A segment whose
  // timestamp is older than TS.Recent is an old duplicate: drop it and acknowledge. Once
  // timestamps are on, a segment without one is dropped (section 3.2).
  if (ts_ok_ && !seg.rst()) {
    if (!seg.options.has_timestamps) {
      if (cfg_->require_timestamps) {
        drop(seg, DropReason::tcp_no_timestamp);
        return;
      }
    } else if (paws_rejects(seg, now)) {
      ++extras().paws_drops;
      drop(seg, DropReason::tcp_paws);
      if (ack_rate_allows(now)) send_ack(now);
      return;
    }
  }
  Seq seq = seg.seq;
  std::span<const std::uint8_t> data = seg.payload;
  bool fin = seg.fin();
  if (!check_sequence(seg, seq, data, fin, now)) return;  // first
  last_heard_at_ = now;
  if (ts_ok_ && seg.options.has_timestamps) update_ts_recent(seg, now);
  if (seg.rst()) {  // second
    check_rst(seg, now);
    return;
  }
  // third: security and precedence are not used.
  if (seg.syn()) {  // fourth
    check_syn(seg, now);
    return;
  }
  if (!seg.ack_flag()) {  // fifth
    drop(seg, DropReason::tcp_no_ack);
    return;
  }
  if (!check_ack(seg, now)) return;
  if (state_ == TcpState::closed) return;
  keepalive_sent_ = 0;
  if (opts_.keepalive) restart_keepalive(now);
  check_urg(seg);  // sixth
  if (!data.empty()) process_text(seq, data, seg.has(PSH), now);  // seventh
  if (fin && state_ != TcpState::closed) check_fin(seq + static_cast<std::uint32_t>(data.size()), now);  // eighth
  // A FIN that came with the SYN, or ahead of data that has now arrived, takes its turn.
  if (fin_pending_ && !fin_received_ && fin_seq_ == rcv_nxt_ && is_synchronized(state_)) process_fin(now);
}

// First: is the segment acceptable (table 5)? Trims it to the window.
bool Connection::check_sequence(const wire::TcpSegment& seg, Seq& seq,
                                std::span<const std::uint8_t>& data, bool& fin, Instant now) {
  std::uint32_t wnd = rcv_wnd();
  // Judged against the free space rather than the window announced, except in a SYN-RECEIVED
  // reached from LISTEN: the BSDs hold such a half-open connection in a SYN cache, which
  // checks against the window its SYN-ACK announced.
  if (cfg_->accept_free_space && !(state_ == TcpState::syn_received && passive_open_)) {
    wnd = std::max(wnd, rcv_buf_.free_space());
  }
  const std::uint32_t len = seg.seg_len();

  // TIME-WAIT: a retransmission of the peer's FIN is acknowledged again and restarts the
  // 2 MSL timer (MUST-13).
  if (state_ == TcpState::time_wait && seg.fin() && !seg.rst() && !seg.syn() &&
      seg.seq + len == rcv_nxt_) {
    time_wait_deadline_ = now + 2 * cfg_->msl;
    ack_now_ = true;
    drop(seg, DropReason::tcp_not_acceptable);
    return false;
  }

  // RFC 5961 section 3.2 (RFC 9293 section 3.10.7.4, second step): an RST is judged by its
  // sequence number alone; outside the window it is dropped silently, whatever payload it
  // carries (SHLD-2). With a zero window only RCV.NXT itself is acceptable (MUST-66).
  if (seg.rst()) {
    const bool in = wnd == 0 ? seg.seq == rcv_nxt_ : in_window(seg.seq, rcv_nxt_, wnd);
    if (!in) drop(seg, DropReason::tcp_not_acceptable);
    return in;
  }

  bool acceptable;
  bool zero_window_allowance = false;
  if (len == 0) {
    acceptable = wnd == 0 ? seg.seq == rcv_nxt_ : in_window(seg.seq, rcv_nxt_, wnd);
  } else if (wnd == 0) {
    // Nothing fits, but ACKs, URGs and RSTs at RCV.NXT are still processed (MUST-66).
    acceptable = false;
    if (seg.seq == rcv_nxt_) zero_window_allowance = true;
  } else {
    // Table 6 admits a segment whose first or last octet lies in the window. We also admit
    // one that covers the whole window, starting before RCV.NXT and ending past the right
    // edge: its middle is new data, and "only the new parts are processed" (as Linux does;
    // otherwise a peer resending an old large segment into a small window would stall).
    const Seq right = rcv_nxt_ + wnd;
    acceptable = in_window(seg.seq, rcv_nxt_, wnd) ||
                 in_window(seg.seq + (len - 1), rcv_nxt_, wnd) ||
                 (seg.seq < rcv_nxt_ && seg.seq + len > right);
  }
  if (!acceptable && !zero_window_allowance) {
    // Unacceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and drop. Data wholly below RCV.NXT
    // is a duplicate: D-SACK it (RFC 2883).
    const bool duplicate_data = !seg.payload.empty() && seg.seq + len <= rcv_nxt_;
    const bool receiving = state_ == TcpState::established || state_ == TcpState::fin_wait_1 ||
                           state_ == TcpState::fin_wait_2;
    if (duplicate_data && receiving && !seg.syn()) {
      // A data sender resending what we hold (its ACK or SACK information was lost or late):
      // every such segment is answered, with its own D-SACK (Linux does the same; a data
      // segment is no part of an ACK loop, so the RFC 5961 limit is not needed here). An
      // unreported D-SACK goes out first rather than be overwritten.
      if (dsack_pending_ && (ack_now_ || ack_delayed_)) send_ack(now);
      note_duplicate(seg.seq, seg.seq + static_cast<std::uint32_t>(seg.payload.size()));
      drop(seg, DropReason::tcp_not_acceptable);
      ack_now_ = true;
      return false;
    }
    // Otherwise rate limited as challenge ACKs are (RFC 5961 section 7).
    if (duplicate_data) {
      const Seq first = seg.seq + (seg.syn() ? 1u : 0u);
      note_duplicate(first, first + static_cast<std::uint32_t>(seg.payload.size()));
    }
    drop(seg, DropReason::tcp_not_acceptable);
    if (ack_rate_allows(now)) {
      // To a SYN the answer is a plain ACK, as RFC 5961 section 4.2 asks "irrespective of
      // the sequence number", even where the BSD choice would send our unacknowledged FIN
      // again with an ACK (FreeBSD answers an out-of-window SYN in LAST-ACK so, too).
      plain_ack_ = seg.syn();
      send_ack(now);
      plain_ack_ = false;
    }
    return false;
  }

  // Trim to the window: what lies before RCV.NXT is old, what lies past the right edge is
  // dropped (and acknowledged, so the peer learns the window).
  Seq data_seq = seg.seq + (seg.syn() ? 1u : 0u);
  if (zero_window_allowance) {
    if (!data.empty() || fin) ack_now_ = true;
    data = {};
    fin = false;
    seq = rcv_nxt_;
    return true;
  }
  if (data_seq < rcv_nxt_) {
    const std::uint32_t old = rcv_nxt_.since(data_seq);
    if (!data.empty()) {
      // RFC 2883: report the duplicate part in a D-SACK block.
      note_duplicate(data_seq, data_seq + static_cast<std::uint32_t>(std::min<std::size_t>(old, data.size())));
    }
    if (old >= data.size()) {
      // All data is old; a FIN at data_seq + size is old too if it lies before RCV.NXT.
      if (fin && (data_seq + static_cast<std::uint32_t>(data.size())) < rcv_nxt_) fin = false;
      data = {};
      data_seq = rcv_nxt_;
      ack_now_ = true;  // a duplicate: tell the peer where we are
    } else {
      // Repeated data with new data after it: the D-SACK goes out at once rather than with
      // a delayed ACK, since it tells the sender its retransmission was spurious (RFC 2883;
      // Linux and FreeBSD do the same).
      if (sack_ok_) ack_now_ = true;
      data = data.subspan(old);
      data_seq = rcv_nxt_;
    }
  }
  const Seq right = rcv_nxt_ + wnd;
  if (data_seq + static_cast<std::uint32_t>(data.size()) > right) {
    const std::uint32_t keep = right > data_seq ? right.since(data_seq) : 0;
    data = data.first(std::min<std::size_t>(keep, data.size()));
    fin = false;  // the FIN lies beyond the window
    ack_now_ = true;
  }
  seq = data_seq;
  return true;
}

// Second: RST. Accepted only at exactly RCV.NXT; in the window otherwise, a challenge ACK
// (RFC 5961 section 3.2).
bool Connection::check_rst(const wire::TcpSegment& seg, Instant now) {
  if (state_ == TcpState::time_wait && cfg_->time_wait_rst == TimeWaitRst::ignore) {
    drop(seg, DropReason::tcp_unexpected);  // RFC 1337
    return false;
  }
  if (seg.seq != rcv_nxt_ && cfg_->rfc5961_rst) {
    drop(seg, DropReason::tcp_rst_not_exact);
    send_challenge_ack(now);
    return false;
  }
  switch (state_) {
    case TcpState::syn_received:
      if (passive_open_) {
        return_to_listen(StateCause::rcv_rst);  // MUST-11
      } else {
        notify(EventKind::reset, Error::refused);
        become_closed(StateCause::rcv_rst, Error::refused);
      }
      break;
    case TcpState::established:
    case TcpState::fin_wait_1:
    case TcpState::fin_wait_2:
    case TcpState::close_wait:
      notify(EventKind::reset, Error::reset);  // MUST-12
      become_closed(StateCause::rcv_rst, Error::reset);
      break;
    case TcpState::closing:
    case TcpState::last_ack:
      if (cfg_->reset_after_shutdown_is_error) {
        notify(EventKind::reset, Error::reset);
        become_closed(StateCause::rcv_rst, Error::reset);
      } else {
        become_closed(StateCause::rcv_rst, Error::none);
      }
      break;
    case TcpState::time_wait:
      become_closed(StateCause::rcv_rst, Error::none);
      break;
    default:
      break;
  }
  return true;
}

// Fourth: SYN in a synchronized state.
bool Connection::check_syn(const wire::TcpSegment& seg, Instant now) {
  if (state_ == TcpState::syn_received && passive_open_) {
    drop(seg, DropReason::tcp_syn_in_window);
    return_to_listen(StateCause::rcv_syn);
    return false;
  }
  if (!cfg_->rfc5961_syn && state_ != TcpState::time_wait) {
    // RFC 793: a SYN in the window is an error: reset, and the connection is gone.
    drop(seg, DropReason::tcp_syn_in_window);
    OutSegment rst;
    fill_common(rst, snd_max_, RST | ACK, now);
    ++stats_.segments_out;
    host_->emit(*this, rst);
    notify(EventKind::reset, Error::reset);
    become_closed(StateCause::rcv_syn, Error::reset);
    return false;
  }
  // RFC 5961 section 4: whatever the sequence number, a challenge ACK, and drop.
  drop(seg, DropReason::tcp_syn_in_window);
  send_challenge_ack(now);
  return false;
}

// Fifth: the ACK field. Returns false when the segment is done with.
bool Connection::check_ack(const wire::TcpSegment& seg, Instant now) {
  if (state_ == TcpState::syn_received) {
    if (!(snd_una_ < seg.ack && seg.ack <= snd_max_)) {
      drop(seg, DropReason::tcp_bad_ack);
      send_rst(seg.ack);  // <SEQ=SEG.ACK><CTL=RST>
      return false;
    }
    snd_wnd_ = seg_window(seg);
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    establish(now);
    // Text that came on the SYN is processed now (section 3.10.7.2).
    if (extras_ && extras_->ooo.contiguous() > 0) deliver_in_order(extras_->ooo.contiguous(), false, now);
  }

  // An ACK for something not yet sent: acknowledge and drop.
  if (seg.ack > snd_max_) {
    drop(seg, DropReason::tcp_bad_ack);
    if (ack_rate_allows(now)) send_ack(now);
    return false;
  }
  // RFC 5961 section 5 (MAY-12): an ACK older than the largest window the peer ever
  // offered is a blind injection attempt: challenge ACK and drop.
  if (seg.ack < snd_una_ - max_snd_wnd_) {
    drop(seg, DropReason::tcp_bad_ack);
    send_challenge_ack(now);
    return false;
  }

  const Seq old_una = snd_una_;
  // SACK blocks first: they say what arrived above SND.UNA (RFC 2018, RFC 6675 section 5).
  const bool new_sack = sack_ok_ && sack_scoreboard_update(seg);
  if (seg.ack > snd_una_) {
    ack_advanced(seg, old_una, now);
  } else if (seg.ack == snd_una_ && seg.payload.empty() && !seg.syn() && !seg.fin() &&
             snd_wnd_ != 0 && snd_max_ != snd_una_ && is_synchronized(state_) &&
             (sack_ok_ ? new_sack : seg_window(seg) == snd_wnd_)) {
    // A duplicate ACK in the sense of RFC 5681 section 2 (with SACK, one that reports new
    // data, RFC 6675 section 2). Not while the window is closed: then the peer is answering
    // our zero-window probes, which says nothing about loss.
    on_duplicate_ack(seg, new_sack, now);
  }
  if (snd_una_ <= seg.ack && seg.ack <= snd_max_) update_window(seg, now);
  // While the window is closed the persist timer probes it; there is nothing to retransmit.
  if (snd_wnd_ == 0 && persist_deadline_ != kNever) rtx_deadline_ = kNever;

  switch (state_) {
    case TcpState::fin_wait_1:
      if (fin_acked()) {
        set_state(TcpState::fin_wait_2, StateCause::rcv_ack);
        if (read_closed_) time_wait_deadline_ = now + 2 * cfg_->msl;  // orphaned: bounded wait
      }
      break;
    case TcpState::closing:
      if (fin_acked()) enter_time_wait(now);
      break;
    case TcpState::last_ack:
      if (fin_acked()) {
        become_closed(StateCause::rcv_ack, Error::none);
        return false;
      }
      break;
    default:
      break;
  }
  return true;
}

void Connection::ack_advanced(const wire::TcpSegment& seg, Seq old_una, Instant now) {
  const std::uint32_t acked = seg.ack.since(old_una);
  if (seg.ack > snd_data_base_) {
    const std::uint32_t n = std::min(seg.ack.since(snd_data_base_), snd_buf_.size());
    snd_buf_.consume(n);
    snd_data_base_ += n;
    stats_.bytes_acked += n;
  }
  snd_una_ = seg.ack;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  take_rtt_sample(seg, now);
  retransmits_ = 0;
  r2_start_ = now;  // progress: a new R2 period
  if (sack_ok_) sack_scoreboard_trim();
  if (is_synchronized(state_) && old_una != iss_) {
    if (recovery_ != Recovery::none) {
      recovery_ack(acked, now);
    } else {
      dupacks_ = 0;
      cc_.on_ack(acked, now, rtt_.srtt(), snd_max_.since(old_una));
    }
  }
  // RFC 6298 section 5.2 and 5.3: stop the timer when all is acknowledged, else restart it.
  if (snd_una_ == snd_max_) {
    rtx_deadline_ = kNever;
  } else {
    restart_retransmit(now);
  }
  if (writable_wanted_ && snd_buf_.free_space() > 0 && !fin_queued_) {
    writable_wanted_ = false;
    notify(EventKind::writable);
  }
  if (snd_buf_.empty()) snd_buf_.release(host_->buffer_cache());
}

void Connection::update_window(const wire::TcpSegment& seg, Instant now) {
  if (!(snd_wl1_ < seg.seq || (snd_wl1_ == seg.seq && snd_wl2_ <= seg.ack))) return;
  const std::uint32_t old = snd_wnd_;
  snd_wnd_ = seg_window(seg);
  max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  if (old == 0 && snd_wnd_ > 0 && persist_deadline_ != kNever) {
    // The window reopened: leave persist, resend from the first unacknowledged byte (a
    // probe may not have been accepted).
    persist_deadline_ = kNever;
    persist_backoff_ = 0;
    snd_nxt_ = snd_una_ == iss_ ? iss_ + 1 : snd_una_;  // an unacknowledged SYN is the timer's
    r2_start_ = now;  // the peer was there all along: a new R2 period for what follows
    // Whatever is outstanding is timed again (output() arms the timer only when it sends).
    if (snd_una_ != snd_max_) restart_retransmit(now);
  }
}

void Connection::take_rtt_sample(const wire::TcpSegment& seg, Instant now) {
  // Karn's rule: rtt_timing_ is cleared whenever anything is retransmitted (MUST-18).
  if (rtt_timing_ && seg.ack > rtt_seq_) {
    rtt_.sample(now - rtt_time_, *cfg_);
    rtt_timing_ = false;
    return;
  }
  // RFC 7323 section 4: with timestamps every ACK of new data is a sample, retransmitted or
  // not, since the echoed TSval says which transmission it answers (1 ms resolution).
  if (ts_ok_ && seg.options.has_timestamps && seg.options.ts_ecr != 0) {
    const std::uint32_t ms = ts_now(now) - seg.options.ts_ecr;
    if (ms < 0x7fffffffu) rtt_.sample(Duration{static_cast<std::int64_t>(ms) * 1000}, *cfg_);
  }
}

// Sixth: URG (MUST-30 to MUST-32).
void Connection::check_urg(const wire::TcpSegment& seg) {
  if (!seg.urg()) return;
  if (state_ != TcpState::established && state_ != TcpState::fin_wait_1 &&
      state_ != TcpState::fin_wait_2) {
    return;  // after the peer's FIN there is no urgent data to come
  }
  const Seq up = seg.seq + seg.urgent;
  if (!has_urgent_ || up > extras_->rcv_up) {
    extras().rcv_up = up;
    has_urgent_ = true;
    if (up > rcv_read_) notify(EventKind::urgent);
  }
}

// Seventh: segment text.
void Connection::process_text(Seq seq, std::span<const std::uint8_t> data, bool /*push*/,
                              Instant now) {
  if (state_ != TcpState::established && state_ != TcpState::fin_wait_1 &&
      state_ != TcpState::fin_wait_2) {
    return;  // CLOSE-WAIT and later: the peer already sent FIN; ignore the text
  }
  if (read_closed_) {
    // SHLD-3: data arriving after the application closed gets a reset.
    send_rst(snd_max_);
    become_closed(StateCause::rcv_data_after_close, Error::none);
    return;
  }
  const std::uint32_t offset = seq.since(rcv_nxt_);
  const bool had_holes = has_out_of_order();
  if (offset == 0 && !had_holes) {
    // In order, and nothing held beyond it: straight into the buffer (what follows would do
    // the same with the out-of-order bookkeeping of one range).
    rcv_buf_.reserve_from(host_->buffer_cache());
    const std::uint32_t n = rcv_buf_.write_ahead(0, data);
    if (n < data.size()) ack_now_ = true;  // cut by the buffer
    deliver_in_order(n, false, now);
    return;
  }
  Extras& x = extras();
  if (offset != 0 && sack_ok_ && ack_now_ && sack_recent_count_ > 0) {
    // MUST-58 has ACKs aggregated over a batch of segments, but one ACK reports only the three
    // or four most recent SACK blocks (RFC 2018 section 4): a batch that starts several new
    // blocks would have some blocks never reported, and the sender would resend data we
    // hold. So an ACK already due with blocks to report goes out before this segment starts
    // or joins another block; a run of segments growing the newest block still shares one
    // ACK (Linux sends its compressed SACK early for the same reason).
    const bool grows_newest = sack_recent_count_ > 0 && x.sack_recent[0].right == seq;
    if (!grows_newest) send_ack(now);
  }
  // Data we already hold out of order arrived again, in whole or in part: report the
  // (first) duplicated range as a D-SACK (RFC 2883 section 4).
  const auto end = offset + static_cast<std::uint32_t>(data.size());
  for (const auto& r : x.ooo.ranges()) {
    if (r.end <= offset || r.start >= end) continue;
    const std::uint32_t a = std::max(r.start, offset), b = std::min(r.end, end);
    // A part below RCV.NXT (found by check_sequence) came first and is reported first.
    if (!dsack_pending_) note_duplicate(rcv_nxt_ + a, rcv_nxt_ + b);
    ack_now_ = true;
    if (a == offset && b == end) return;  // nothing new in it
    break;
  }
  rcv_buf_.reserve_from(host_->buffer_cache());
  const std::uint32_t n = rcv_buf_.write_ahead(offset, data);
  if (n < data.size()) ack_now_ = true;  // cut by the buffer
  std::uint32_t evicted = 0xffffffffu;
  const bool kept = x.ooo.add(offset, offset + n, &evicted);
  if (evicted != 0xffffffffu) {
    // Forgotten out-of-order data must not be SACKed any more (it was never acknowledged).
    const Seq gone = rcv_nxt_ + evicted;
    std::uint8_t k = 0;
    for (std::uint8_t i = 0; i < sack_recent_count_; ++i)
      if (x.sack_recent[i].right <= gone) x.sack_recent[k++] = x.sack_recent[i];
    sack_recent_count_ = k;
  }
  if (!kept) {
    ++x.out_of_order_segments;
    ack_now_ = true;
    return;
  }
  if (offset != 0) {
    // Out of order: keep it (SHLD-31) and send a duplicate ACK at once (RFC 5681, MAY-13),
    // with the block holding it first among the SACK blocks (RFC 2018 section 4).
    ++x.out_of_order_segments;
    for (const auto& r : x.ooo.ranges()) {
      if (r.start <= offset && offset < r.end) {
        note_sack_block(rcv_nxt_ + r.start, rcv_nxt_ + r.end);
        break;
      }
    }
    ack_now_ = true;
    return;
  }
  deliver_in_order(x.ooo.contiguous(), had_holes, now);
}

// In-order data at RCV.NXT (`ready` bytes, with whatever out-of-order data it joins) becomes
// readable.
void Connection::deliver_in_order(std::uint32_t ready, bool had_holes, Instant now) {
  rcv_buf_.commit(ready);
  if (extras_) extras_->ooo.advance(ready);
  rcv_nxt_ += ready;
  if (sack_recent_count_ > 0) prune_sack_blocks();
  stats_.bytes_received += ready;
  rcv_unacked_bytes_ += ready;
  if (rcv_unacked_segments_ < 255) ++rcv_unacked_segments_;
  // Filling a hole, or data after a hole remains: acknowledge at once (RFC 5681 section 4.2).
  // Otherwise at least every second full-sized segment (SHLD-19), or every second segment.
  const bool immediate = had_holes || rcv_unacked_bytes_ >= 2u * rcv_mss_ ||
                         (cfg_->ack_every_second_segment && rcv_unacked_segments_ >= 2);
  schedule_ack(immediate, now);
  notify(EventKind::readable);
  if (fin_pending_ && fin_seq_ == rcv_nxt_) process_fin(now);
}

// Eighth: FIN.
void Connection::check_fin(Seq fin_seq, Instant now) {
  if (fin_seq != rcv_nxt_) {
    // The FIN follows data we do not have yet: remember it.
    fin_pending_ = true;
    fin_seq_ = fin_seq;
    ack_now_ = true;
    return;
  }
  if (fin_received_) {
    ack_now_ = true;
    return;
  }
  process_fin(now);
}

void Connection::process_fin(Instant now) {
  fin_pending_ = false;
  fin_received_ = true;
  rcv_nxt_ += 1;
  rcv_adv_ = seq_max(rcv_adv_, rcv_nxt_);
  ack_now_ = true;
  notify(EventKind::peer_closed);
  switch (state_) {
    case TcpState::syn_received:
    case TcpState::established:
      set_state(TcpState::close_wait, StateCause::rcv_fin);
      break;
    case TcpState::fin_wait_1:
      if (fin_acked()) enter_time_wait(now);
      else set_state(TcpState::closing, StateCause::rcv_fin);
      break;
    case TcpState::fin_wait_2:
      enter_time_wait(now);
      break;
    case TcpState::time_wait:
      time_wait_deadline_ = now + 2 * cfg_->msl;
      break;
    default:
      break;
  }
}

void Connection::negotiate_options(const wire::TcpSegment& syn, Instant now) {
  // MUST-14, MUST-15, MUST-16: the peer's MSS, or 536 when it sent none, bounded by what
  // our own MTU carries.
  std::uint16_t peer = cfg_->default_peer_mss;
  if (syn.options.has_mss) peer = std::max<std::uint16_t>(syn.options.mss, 64);
  snd_mss_ = std::min(peer, local_mss());
  // RFC 7323 section 2.2: window scaling only when both sides sent the option; a shift
  // above 14 is taken as 14.
  ws_ok_ = cfg_->window_scaling && !opts_.no_options && syn.options.has_wscale;
  snd_wscale_ = ws_ok_ ? std::min<std::uint8_t>(syn.options.wscale, 14) : 0;
  rcv_wscale_ = ws_ok_ ? our_window_scale() : 0;
  // RFC 7323 section 3.2: timestamps when both sides sent them.
  ts_ok_ = cfg_->timestamps && !opts_.no_options && syn.options.has_timestamps;
  if (ts_ok_) {
    ts_recent_ = syn.options.ts_val;
    ts_recent_at_ = now;
  }
  // RFC 2018 section 2: SACK when both sides sent SACK-permitted.
  sack_ok_ = cfg_->sack && !opts_.no_options && syn.options.sack_permitted;
  cc_.set_smss(payload_mss());
}

std::uint8_t Connection::our_window_scale() const {
  // The smallest shift that lets the largest receive buffer be announced.
  const std::uint32_t biggest = std::max(cfg_->max_recv_buffer, cfg_->recv_buffer);
  std::uint8_t s = 0;
  while (s < 14 && (biggest >> s) > 0xffff) ++s;
  return s;
}

std::uint32_t Connection::ts_now(Instant now) const {
  return static_cast<std::uint32_t>(to_us(now) / 1000) + ts_offset_;
}

// RFC 7323 section 5.5: a TS.Recent idle for more than 24 days is no longer valid (the
// peer's timestamp clock may have wrapped its sign bit since).
constexpr Duration kTsRecentLifetime{24LL * 24 * 3600 * 1000000};

bool Connection::paws_rejects(const wire::TcpSegment& seg, Instant now) const {
  if (static_cast<std::int32_t>(seg.options.ts_val - ts_recent_) >= 0) return false;
  return now - ts_recent_at_ <= kTsRecentLifetime;
}

void Connection::update_ts_recent(const wire::TcpSegment& seg, Instant now) {
  // RFC 7323 section 4.3: only from a segment that is not beyond what we acknowledged. An
  // expired TS.Recent (section 5.5) is replaced even by an older TSval: the segment passed
  // PAWS because of it, and TS.Recent restarts from what the peer sends now.
  const bool newer = static_cast<std::int32_t>(seg.options.ts_val - ts_recent_) >= 0;
  if ((newer || now - ts_recent_at_ > kTsRecentLifetime) && seg.seq <= last_ack_sent_) {
    ts_recent_ = seg.options.ts_val;
    ts_recent_at_ = now;
  }
}

}  // namespace synfin::tcp

// Connection: construction, user calls (RFC 9293 sections 3.10.1 to 3.10.6), state changes.
// Segment arrival is in input.cpp, sending in output.cpp, timers in timers.cpp.
#include "tcp/connection.hpp"
#include "tcp/time_wait.hpp"

#include <algorithm>

namespace synfin::tcp {

Connection::Connection(ConnectionHost& host, const TcpConfig& config, const FourTuple& tuple)
    : host_(&host), cfg_(&config), tuple_(tuple) {
  opts_.no_delay = config.no_delay;
  opts_.keepalive = config.keepalive;
  opts_.keepalive_idle = config.keepalive_idle;
  opts_.keepalive_interval = config.keepalive_interval;
  opts_.keepalive_probes = config.keepalive_probes;
  snd_buf_.set_capacity(config.send_buffer);
  rcv_buf_.set_capacity(config.recv_buffer);
  rtt_.reset(config);
  cc_algo_ = config.congestion;
  rcv_mss_ = local_mss();
  snd_mss_ = std::min<std::uint16_t>(config.default_peer_mss, rcv_mss_);
}

std::uint16_t Connection::local_mss() const {
  // MUST-67: no larger than what we can reassemble (the MTU, no fragmentation) minus 40.
  return static_cast<std::uint16_t>(std::max(cfg_->mtu, std::uint16_t{68}) - 40);
}

// --- OPEN -------------------------------------------------------------------------------

Error Connection::open_active(Instant now) {
  if (state_ != TcpState::closed && state_ != TcpState::listen) return Error::invalid_state;
  // A connection object lives once: after CLOSED it is not reopened (its state is stale).
  if (state_ == TcpState::closed && ever_opened_) return Error::invalid_state;
  if (tuple_.remote_port == 0 || tuple_.remote_addr == 0) return Error::invalid_argument;
  iss_ = host_->choose_isn(tuple_, now);
  snd_una_ = iss_;
  snd_nxt_ = iss_;
  snd_max_ = iss_;
  snd_data_base_ = iss_ + 1;
  passive_open_ = false;
  opened_at_ = now;
  ts_offset_ = host_->timestamp_offset(tuple_);
  set_state(TcpState::syn_sent, StateCause::user_open_active);
  send_syn(false, now);
  return Error::none;
}

Error Connection::open_passive() {
  if (state_ != TcpState::closed || ever_opened_) return Error::invalid_state;
  listen_remote_port_ = tuple_.remote_port;
  set_state(TcpState::listen, StateCause::user_open_passive);
  return Error::none;
}

// --- SEND -------------------------------------------------------------------------------

Result<std::uint32_t, Error> Connection::send(std::span<const std::uint8_t> data, Instant now) {
  switch (state_) {
    case TcpState::closed:
      return fail(error_ != Error::none ? error_ : Error::not_connected);
    case TcpState::listen:
      return fail(Error::invalid_state);
    case TcpState::syn_sent:
    case TcpState::syn_received:
    case TcpState::established:
    case TcpState::close_wait:
      break;
    default:
      return fail(Error::closing);
  }
  if (fin_queued_) return fail(Error::closing);
  if (data.empty()) return std::uint32_t{0};
  if (data.size() > snd_buf_.free_space()) tune_send_buffer();
  snd_buf_.reserve_from(host_->buffer_cache());
  const std::uint32_t n = snd_buf_.write(data);
  if (n == 0) {
    writable_wanted_ = true;
    return fail(Error::would_block);
  }
  if (n < data.size()) writable_wanted_ = true;
  output(now);
  return n;
}

Result<std::uint32_t, Error> Connection::send_urgent(std::span<const std::uint8_t> data,
                                                     Instant now) {
  // Check first, so that a refused send leaves the urgent pointer alone.
  if (state_ == TcpState::closed || state_ == TcpState::listen || fin_queued_ ||
      !(state_ == TcpState::syn_sent || state_ == TcpState::syn_received ||
        state_ == TcpState::established || state_ == TcpState::close_wait)) {
    return send(data, now);
  }
  const std::uint32_t before = snd_buf_.size();
  if (data.size() > snd_buf_.free_space()) return fail(Error::would_block);
  snd_buf_.reserve_from(host_->buffer_cache());
  snd_buf_.write(data);
  // MUST-62: the urgent pointer marks the octet following the urgent data.
  extras().snd_up = snd_data_base_ + before + static_cast<std::uint32_t>(data.size());
  has_snd_urgent_ = true;
  output(now);
  return static_cast<std::uint32_t>(data.size());
}

// --- RECEIVE ----------------------------------------------------------------------------

Result<std::uint32_t, Error> Connection::receive(std::span<std::uint8_t> out, Instant now) {
  if (state_ == TcpState::listen || state_ == TcpState::syn_sent ||
      state_ == TcpState::syn_received) {
    return fail(Error::would_block);
  }
  if (read_closed_) return fail(Error::invalid_state);
  const std::uint32_t n = rcv_buf_.read(out);
  rcv_read_ += n;
  if (n > 0) {
    tune_receive_buffer(n, now);
    if (rcv_buf_.empty() && !has_out_of_order()) rcv_buf_.release(host_->buffer_cache());
    maybe_window_update(now);
    return n;
  }
  if (out.empty()) return std::uint32_t{0};
  if (fin_received_) return std::uint32_t{0};  // end of stream
  if (state_ == TcpState::closed) return fail(error_ != Error::none ? error_ : Error::not_connected);
  return fail(Error::would_block);
}

std::uint32_t Connection::urgent_pending() const {
  if (!has_urgent_ || !(extras_->rcv_up > rcv_read_)) return 0;
  return extras_->rcv_up.since(rcv_read_);
}

// Receive-buffer auto-tuning: once per round trip, compare what the application read in
// that round trip with the buffer. A window smaller than twice the bytes per round trip
// limits the sender (it may still be doubling in slow start), so the buffer grows toward
// that, up to max_recv_buffer. The right edge moves out as the application reads.
void Connection::tune_receive_buffer(std::uint32_t copied, Instant now) {
  if (!cfg_->auto_tune || !rtt_.has_sample() || !is_synchronized(state_)) return;
  if (extras_ && extras_->rcv_buf_locked) return;
  rcv_space_copied_ += copied;
  if (rcv_space_start_ == Instant{}) {
    rcv_space_start_ = now;
    return;
  }
  if (now - rcv_space_start_ < std::max<Duration>(rtt_.srtt(), 1ms)) return;
  const std::uint64_t want = std::min<std::uint64_t>(4ull * rcv_space_copied_, std::max(cfg_->max_recv_buffer, cfg_->recv_buffer));
  const std::uint32_t limit = 0xffffu << rcv_wscale_;  // what the window field can announce
  const auto target = static_cast<std::uint32_t>(std::min<std::uint64_t>(want, limit));
  if (target > rcv_buf_.capacity()) rcv_buf_.grow(target);
  rcv_space_copied_ = 0;
  rcv_space_start_ = now;
}

// Whole segments' worth of buffer, once the MSS is known: a configured choice, the BSDs'
// tcp_mss(), which runs when an active open learns the MSS and when a passive one completes.
void Connection::round_buffers_to_mss() {
  if (!cfg_->round_buffers_to_mss) return;
  const std::uint32_t m = payload_mss();
  auto round_up = [m](std::uint32_t v) { return (v + m - 1) / m * m; };
  rcv_buf_.grow(round_up(rcv_buf_.capacity()));
  snd_buf_.grow(round_up(snd_buf_.capacity()));
}

// Send-buffer auto-tuning: when the application fills the buffer, it grows to twice the
// congestion window (what one round trip can carry, plus as much queued behind it).
void Connection::tune_send_buffer() {
  if (!cfg_->auto_tune || !is_synchronized(state_)) return;
  if (extras_ && extras_->snd_buf_locked) return;
  const std::uint64_t want = std::min<std::uint64_t>(
      2ull * std::max(cc_.cwnd(), std::min(snd_wnd_, cc_.cwnd() * 2)), std::max(cfg_->max_send_buffer, cfg_->send_buffer));
  if (want > snd_buf_.capacity()) snd_buf_.grow(static_cast<std::uint32_t>(want));
}

// --- CLOSE ------------------------------------------------------------------------------

Error Connection::shutdown_write(Instant now) {
  switch (state_) {
    case TcpState::closed:
      return error_ != Error::none ? error_ : Error::not_connected;
    case TcpState::listen:
      become_closed(StateCause::user_close, Error::none);
      return Error::none;
    case TcpState::syn_sent:
      // A half-close before the handshake completes: the FIN follows the queued data once
      // the connection is established, as FreeBSD does. (An outright CLOSE with nothing
      // queued deletes the TCB, section 3.10.4: see close().)
      if (fin_queued_) return Error::closing;
      fin_queued_ = true;
      close_when_established_ = true;
      return Error::none;
    case TcpState::syn_received:
      if (fin_queued_) return Error::closing;
      fin_queued_ = true;
      if (snd_buf_.empty()) {
        // No data queued: send the FIN now and enter FIN-WAIT-1 (section 3.10.4).
        set_state(TcpState::fin_wait_1, StateCause::user_close);
        output(now);
      } else {
        close_when_established_ = true;
      }
      return Error::none;
    case TcpState::established:
      if (fin_queued_) return Error::closing;
      fin_queued_ = true;
      set_state(TcpState::fin_wait_1, StateCause::user_close);
      output(now);
      return Error::none;
    case TcpState::close_wait:
      if (fin_queued_) return Error::closing;
      fin_queued_ = true;
      set_state(TcpState::last_ack, StateCause::user_close);
      output(now);
      return Error::none;
    case TcpState::fin_wait_1:
    case TcpState::fin_wait_2:
    case TcpState::closing:
    case TcpState::last_ack:
    case TcpState::time_wait:
      return Error::closing;
  }
  return Error::invalid_state;
}

Error Connection::close(Instant now) {
  if (state_ == TcpState::closed) return error_ != Error::none ? error_ : Error::not_connected;
  // SHLD-3: closing with data the application never read resets the connection.
  if (!rcv_buf_.empty() && is_synchronized(state_) && state_ != TcpState::time_wait) {
    read_closed_ = true;
    send_rst(snd_max_);
    become_closed(StateCause::unread_data_on_close, Error::none);
    return Error::none;
  }
  read_closed_ = true;
  if (state_ == TcpState::syn_sent && snd_buf_.empty() && !fin_queued_) {
    become_closed(StateCause::user_close, Error::none);  // section 3.10.4: delete the TCB
    return Error::none;
  }
  if (fin_queued_) return Error::none;  // already half-closed: now fully closed
  const Error e = shutdown_write(now);
  return e == Error::closing ? Error::none : e;
}

void Connection::abort(Instant /*now*/) {
  switch (state_) {
    case TcpState::syn_received:
    case TcpState::established:
    case TcpState::fin_wait_1:
    case TcpState::fin_wait_2:
    case TcpState::close_wait:
      send_rst(snd_max_);
      break;
    default:
      break;
  }
  if (state_ != TcpState::closed) become_closed(StateCause::user_abort, Error::aborted);
}

// --- options ----------------------------------------------------------------------------

void Connection::set_no_delay(bool on, Instant now) {
  opts_.no_delay = on;
  if (on && is_synchronized(state_)) output(now);
}

void Connection::set_keepalive(bool on, Instant now) {
  opts_.keepalive = on;
  keepalive_sent_ = 0;
  if (on) restart_keepalive(now);
  else keepalive_deadline_ = kNever;
}

void Connection::set_keepalive_params(Duration idle, Duration interval, std::uint8_t probes,
                                      Instant now) {
  if (idle > Duration::zero()) opts_.keepalive_idle = idle;
  if (interval > Duration::zero()) opts_.keepalive_interval = interval;
  if (probes > 0) opts_.keepalive_probes = probes;
  if (opts_.keepalive) restart_keepalive(now);
}

Error Connection::set_buffer_sizes(std::uint32_t send_bytes, std::uint32_t recv_bytes) {
  if (send_bytes == 0 || recv_bytes == 0) return Error::invalid_argument;
  // Buffers can be resized only while empty, and the receive window is announced in the
  // handshake: resize before the connection opens.
  if (state_ != TcpState::closed && state_ != TcpState::listen) return Error::invalid_state;
  snd_buf_.set_capacity(send_bytes);
  rcv_buf_.set_capacity(recv_bytes);
  return Error::none;
}

void Connection::lock_buffer_sizes(bool send, bool recv) {
  if (!send && !recv) return;
  Extras& x = extras();
  x.snd_buf_locked = x.snd_buf_locked || send;
  x.rcv_buf_locked = x.rcv_buf_locked || recv;
}

void Connection::path_mtu_changed(std::uint16_t mtu, Instant now) {
  // RFC 1191: fragmentation needed lowers the MSS; it is not a reason to abort.
  const std::uint16_t mss = static_cast<std::uint16_t>(std::max<int>(mtu, 68) - 40);
  if (mss < snd_mss_) {
    snd_mss_ = mss;
    cc_.set_smss(payload_mss());
    // Resend what is outstanding at the new size.
    if (snd_una_ != snd_max_) {
      // Our SYN may still be unacknowledged: it is resent by its own timer, not here.
      snd_nxt_ = snd_una_ == iss_ ? iss_ + 1 : snd_una_;
      rtt_timing_ = false;
      output(now);
    }
  }
}

void Connection::soft_error(Error e) {
  stats_.last_error = e;
  notify(EventKind::soft_error, e);
}

void Connection::hard_error(Error e, Instant /*now*/) {
  // RFC 5927 section 4.1: hard errors abort only while the connection is being opened; on
  // an established connection they are kept as soft errors, as Linux and FreeBSD do.
  if (state_ == TcpState::syn_sent || state_ == TcpState::syn_received) {
    become_closed(StateCause::icmp_error, e);
  } else {
    soft_error(e);
  }
}

// --- STATUS -----------------------------------------------------------------------------

std::uint32_t Connection::rcv_wnd() const {
  return rcv_adv_ > rcv_nxt_ ? rcv_adv_.since(rcv_nxt_) : 0;
}

ConnectionInfo Connection::info() const {
  ConnectionInfo i;
  i.bytes_sent = stats_.bytes_sent;
  i.bytes_acked = stats_.bytes_acked;
  i.bytes_received = stats_.bytes_received;
  i.segments_in = stats_.segments_in;
  i.segments_out = stats_.segments_out;
  i.retransmissions = stats_.retransmissions;
  if (extras_) {
    const Extras& x = *extras_;
    i.timeouts = x.timeouts;
    i.fast_retransmits = x.fast_retransmits;
    i.dupacks_received = x.dupacks_received;
    i.challenge_acks = x.challenge_acks;
    i.out_of_order_segments = x.out_of_order_segments;
    i.zero_window_probes = x.zero_window_probes;
    i.keepalive_probes = x.keepalive_probes;
    i.sack_recoveries = x.sack_recoveries;
    i.dsacks_received = x.dsacks_received;
    i.paws_drops = x.paws_drops;
  }
  i.state = state_;
  i.srtt = rtt_.srtt();
  i.rttvar = rtt_.rttvar();
  i.rto = rtt_.rto();
  i.cwnd = cc_.cwnd();
  i.ssthresh = cc_.ssthresh();
  i.snd_mss = snd_mss_;
  i.rcv_mss = rcv_mss_;
  i.snd_wnd = snd_wnd_;
  i.rcv_wnd = rcv_wnd();
  i.unacked = (state_ == TcpState::closed || state_ == TcpState::listen) ? 0 : snd_max_.since(snd_una_);
  i.send_queued = snd_buf_.size();
  i.recv_queued = rcv_buf_.size();
  i.in_recovery = recovery_ != Recovery::none;
  i.sack_recovery = recovery_ == Recovery::sack;
  i.window_scaling = ws_ok_;
  i.timestamps = ts_ok_;
  i.sack = sack_ok_;
  i.snd_wscale = snd_wscale_;
  i.rcv_wscale = rcv_wscale_;
  i.sacked_bytes = sacked_bytes_;
  i.sack_blocks = static_cast<std::uint32_t>(scoreboard().size());
  i.recv_buffer = rcv_buf_.capacity();
  i.send_buffer = snd_buf_.capacity();
  i.congestion = cc_algo_;  // cc_ takes it over at the handshake (establish())
  i.last_error = error_ != Error::none ? error_ : stats_.last_error;
  return i;
}

// --- state ------------------------------------------------------------------------------

void Connection::set_state(TcpState s, StateCause why) {
  if (s == state_) return;
  const TcpState old = state_;
  state_ = s;
  ever_opened_ = true;
  host_->state_changed(*this, old, s, why);
}

void Connection::notify(EventKind k, Error e) { host_->deliver(*this, Event{k, e}); }

void Connection::establish(Instant now) {
  set_state(TcpState::established, passive_open_ ? StateCause::rcv_ack : StateCause::rcv_syn_ack);
  cc_.init(cc_algo_, payload_mss(), cfg_->initial_window_segments);
  if (passive_open_) round_buffers_to_mss();
  if (syn_retransmitted_) {
    cc_.set_loss_window();  // RFC 5681 section 3.1
    rtt_.raise_to(3s);      // RFC 6298 section 5.7
  }
  restart_keepalive(now);
  notify(EventKind::connected);
  if (close_when_established_) {
    close_when_established_ = false;
    set_state(TcpState::fin_wait_1, StateCause::user_close);
  }
  if (!rcv_buf_.empty()) notify(EventKind::readable);
}

void Connection::enter_time_wait(Instant now) {
  set_state(TcpState::time_wait, StateCause::rcv_fin);
  rtx_deadline_ = persist_deadline_ = delack_deadline_ = keepalive_deadline_ = sws_deadline_ = kNever;
  time_wait_deadline_ = now + 2 * cfg_->msl;  // MUST-13
  // What is left to deliver stays readable; nothing more will be sent.
  snd_buf_.consume(snd_buf_.size());
  snd_buf_.release(host_->buffer_cache());
  if (extras_) extras_->ooo.clear();
}

bool Connection::compactable() const {
  if (state_ != TcpState::time_wait) return false;
  // Nothing in flight either way: our FIN is acknowledged, the ACK of everything received
  // has gone out (so Last.ACK.sent is RCV.NXT), and only the 2 MSL timer runs.
  if (!fin_acked() || snd_una_ != snd_max_ || ack_now_ || last_ack_sent_ != rcv_nxt_) return false;
  if (next_deadline() != time_wait_deadline_) return false;
  // Nothing left to read, and no SACK block a later ACK would still carry.
  if (!rcv_buf_.empty() || has_out_of_order() || dsack_pending_) return false;
  for (std::uint8_t i = 0; i < sack_recent_count_; ++i)
    if (extras_->sack_recent[i].right > rcv_nxt_) return false;
  return true;
}

TimeWaitRecord Connection::to_time_wait_record() {
  TimeWaitRecord r;
  r.tuple = tuple_;
  r.snd_nxt = snd_max_;
  r.rcv_nxt = rcv_nxt_;
  r.rcv_wnd = rcv_wnd();
  r.free_space = rcv_buf_.free_space();
  r.max_snd_wnd = max_snd_wnd_;
  r.snd_wl1 = snd_wl1_;
  r.ts_recent = ts_recent_;
  r.ts_recent_at = ts_recent_at_;
  if (extras_) {
    r.challenge_window = extras_->challenge_window;
    r.challenge_count = extras_->challenge_count;
  }
  r.rcv_wscale = rcv_wscale_;
  r.snd_wscale = snd_wscale_;
  r.ts_ok = ts_ok_;
  r.sack_ok = sack_ok_;
  // The window the next ACK announces. Nothing is read any more, so the ACK after it
  // announces the same: window_to_advertise() settles after one call.
  const Seq adv = rcv_adv_;
  r.window = window_to_advertise();
  rcv_adv_ = adv;
  return r;
}

void Connection::become_closed(StateCause why, Error err) {
  rtx_deadline_ = persist_deadline_ = delack_deadline_ = keepalive_deadline_ = sws_deadline_ =
      time_wait_deadline_ = kNever;
  if (err != Error::none) error_ = err;
  snd_buf_.consume(snd_buf_.size());
  snd_buf_.release(host_->buffer_cache());
  if (read_closed_ || err != Error::none) {
    rcv_buf_.consume(rcv_buf_.size());
    rcv_buf_.release(host_->buffer_cache());
  }
  if (extras_) extras_->ooo.clear();
  set_state(TcpState::closed, why);
  notify(EventKind::closed, err);
}

void Connection::return_to_listen(StateCause why) {
  // MUST-11: a connection that came from LISTEN goes back there (on RST, on a SYN in the
  // window, or when the half-open connection times out), as the passive OPEN left it.
  rtx_deadline_ = persist_deadline_ = delack_deadline_ = keepalive_deadline_ = sws_deadline_ =
      time_wait_deadline_ = kNever;
  snd_buf_.consume(snd_buf_.size());
  snd_buf_.release(host_->buffer_cache());
  rcv_buf_.consume(rcv_buf_.size());
  rcv_buf_.release(host_->buffer_cache());
  if (extras_) extras_->ooo.clear();
  tuple_.remote_port = listen_remote_port_;
  passive_open_ = false;
  fin_queued_ = fin_received_ = fin_pending_ = false;
  close_when_established_ = false;
  syn_retransmitted_ = false;
  ack_now_ = ack_delayed_ = rtt_timing_ = false;
  has_urgent_ = has_snd_urgent_ = writable_wanted_ = false;
  retransmits_ = persist_backoff_ = keepalive_sent_ = 0;
  rcv_unacked_bytes_ = 0;
  snd_wnd_ = max_snd_wnd_ = 0;
  r2_start_ = kNever;
  rtt_.reset(*cfg_);
  ws_ok_ = ts_ok_ = sack_ok_ = false;
  snd_wscale_ = rcv_wscale_ = 0;
  recovery_ = Recovery::none;
  have_recover_ = false;
  dupacks_ = 0;
  if (extras_) extras_->scoreboard.clear();
  sacked_bytes_ = 0;
  sack_recent_count_ = 0;
  dsack_pending_ = false;
  set_state(TcpState::listen, why);
}

void Connection::release_buffers() {
  if (snd_buf_.empty()) snd_buf_.release(host_->buffer_cache());
  if (rcv_buf_.empty() && !has_out_of_order()) rcv_buf_.release(host_->buffer_cache());
}

void Connection::drop(const wire::TcpSegment& seg, DropReason r) { host_->dropped(*this, seg, r); }

bool Connection::reset_for(const wire::TcpSegment& seg, OutSegment& out) {
  if (seg.rst()) return false;  // never answer a reset with a reset
  out = OutSegment{};
  out.header.src_port = seg.dst_port;
  out.header.dst_port = seg.src_port;
  if (seg.ack_flag()) {
    out.header.seq = seg.ack;
    out.header.flags = wire::tcp_flag::RST;
  } else {
    out.header.seq = Seq{0};
    out.header.ack = seg.seq + seg.seg_len();
    out.header.flags = wire::tcp_flag::RST | wire::tcp_flag::ACK;
  }
  return true;
}

}  // namespace synfin::tcp

// TIME-WAIT as a compact record: segment arrival, step by step as input.cpp takes it for a
// Connection in TIME-WAIT (the comments name the Connection function each part mirrors).
#include "tcp/time_wait.hpp"

#include <algorithm>

namespace synfin::tcp {

using namespace wire::tcp_flag;

namespace {

// Connection::ack_rate_allows: RFC 5961 section 7, per connection.
bool ack_rate_allows(TimeWaitRecord& r, const TcpConfig& cfg, Instant now) {
  if (now - r.challenge_window >= 1s) {
    r.challenge_window = now;
    r.challenge_count = 0;
  }
  if (r.challenge_count >= cfg.challenge_ack_limit) return false;
  ++r.challenge_count;
  return true;
}

// Connection::note_duplicate (RFC 2883).
void note_duplicate(TimeWaitRecord& r, Seq left, Seq right) {
  if (!r.sack_ok || !(left < right)) return;
  r.dsack_pending = true;
  r.dsack = wire::SackBlock{left, right};
}

// Connection::paws_rejects (RFC 7323 section 5).
bool paws_rejects(const TimeWaitRecord& r, const wire::TcpSegment& seg, Instant now) {
  if (static_cast<std::int32_t>(seg.options.ts_val - r.ts_recent) >= 0) return false;
  return now - r.ts_recent_at <= Duration{24LL * 24 * 3600 * 1000000};
}

// Connection::update_ts_recent. Last.ACK.sent is RCV.NXT: a record is made only once the
// ACK of everything received has gone out, and RCV.NXT no longer moves.
void update_ts_recent(TimeWaitRecord& r, const wire::TcpSegment& seg, Instant now) {
  if (static_cast<std::int32_t>(seg.options.ts_val - r.ts_recent) >= 0 && seg.seq <= r.rcv_nxt) {
    r.ts_recent = seg.options.ts_val;
    r.ts_recent_at = now;
  }
}

void drop(TimeWaitVerdict& v, DropReason why) {
  v.dropped = true;
  v.drop = why;
}

}  // namespace

bool syn_reopens_time_wait(const wire::TcpSegment& seg, Seq rcv_nxt, bool ts_used, std::uint32_t ts_recent,
                           bool timestamps_wanted) {
  if (!seg.syn() || seg.ack_flag() || seg.rst()) return false;
  if (ts_used && timestamps_wanted && seg.options.has_timestamps) {
    const auto newer = static_cast<std::int32_t>(seg.options.ts_val - ts_recent);
    if (newer != 0) return newer > 0;
  }
  return seg.seq > rcv_nxt;
}

TimeWaitVerdict time_wait_arrives(TimeWaitRecord& r, const wire::TcpSegment& seg, const TcpConfig& cfg,
                                  bool listening, Instant now) {
  TimeWaitVerdict v;
  // MAY-2 (the Stack's demultiplexing): a SYN whose sequence number lies beyond the old
  // connection's may open a new incarnation through the listener.
  if (listening && syn_reopens_time_wait(seg, r.rcv_nxt, r.ts_ok, r.ts_recent, cfg.timestamps)) {
    v.action = TimeWaitVerdict::Action::reopen;
    return v;
  }
  // Connection::on_segment
  if (cfg.drop_syn_fin && seg.syn() && seg.fin()) {
    drop(v, DropReason::tcp_unexpected);
    return v;
  }
  // synchronized_arrives: RFC 7323 section 5.3, R1, PAWS.
  if (r.ts_ok && !seg.rst()) {
    if (!seg.options.has_timestamps) {
      if (cfg.require_timestamps) {
        drop(v, DropReason::tcp_no_timestamp);
        return v;
      }
    } else if (paws_rejects(r, seg, now)) {
      drop(v, DropReason::tcp_paws);
      v.ack_now = ack_rate_allows(r, cfg, now);
      return v;
    }
  }

  // check_sequence. The receive buffer takes nothing any more: only the window matters.
  std::uint32_t wnd = r.rcv_wnd;
  if (cfg.accept_free_space) wnd = std::max(wnd, r.free_space);
  const std::uint32_t len = seg.seg_len();

  // A retransmission of the peer's FIN is acknowledged again and restarts the 2 MSL timer
  // (MUST-13).
  if (seg.fin() && !seg.rst() && !seg.syn() && seg.seq + len == r.rcv_nxt) {
    v.restart_timer = true;
    r.ack_pending = true;
    drop(v, DropReason::tcp_not_acceptable);
    return v;
  }
  // RFC 5961 section 3.2: an RST is judged by its sequence number alone.
  if (seg.rst()) {
    const bool in = wnd == 0 ? seg.seq == r.rcv_nxt : in_window(seg.seq, r.rcv_nxt, wnd);
    if (!in) {
      drop(v, DropReason::tcp_not_acceptable);
      return v;
    }
    if (r.ts_ok && seg.options.has_timestamps) update_ts_recent(r, seg, now);
    // check_rst
    if (cfg.time_wait_rst == TimeWaitRst::ignore) {
      drop(v, DropReason::tcp_unexpected);  // RFC 1337
      return v;
    }
    if (seg.seq != r.rcv_nxt && cfg.rfc5961_rst) {
      drop(v, DropReason::tcp_rst_not_exact);
      v.ack_now = ack_rate_allows(r, cfg, now);  // a challenge ACK
      return v;
    }
    v.action = TimeWaitVerdict::Action::close;
    return v;
  }

  bool acceptable;
  bool zero_window_allowance = false;
  if (len == 0) {
    acceptable = wnd == 0 ? seg.seq == r.rcv_nxt : in_window(seg.seq, r.rcv_nxt, wnd);
  } else if (wnd == 0) {
    acceptable = false;
    if (seg.seq == r.rcv_nxt) zero_window_allowance = true;
  } else {
    const Seq right = r.rcv_nxt + wnd;
    acceptable = in_window(seg.seq, r.rcv_nxt, wnd) || in_window(seg.seq + (len - 1), r.rcv_nxt, wnd) ||
                 (seg.seq < r.rcv_nxt && seg.seq + len > right);
  }
  if (!acceptable && !zero_window_allowance) {
    if (!seg.payload.empty() && seg.seq + len <= r.rcv_nxt) {
      const Seq first = seg.seq + (seg.syn() ? 1u : 0u);
      note_duplicate(r, first, first + static_cast<std::uint32_t>(seg.payload.size()));
    }
    drop(v, DropReason::tcp_not_acceptable);
    v.ack_now = ack_rate_allows(r, cfg, now);
    return v;
  }
  // Trimming to the window: the text is ignored in TIME-WAIT, but what it says about
  // duplicates and the FIN still counts.
  bool fin = seg.fin();
  if (zero_window_allowance) {
    if (!seg.payload.empty() || fin) r.ack_pending = true;
    fin = false;
  } else {
    Seq data_seq = seg.seq + (seg.syn() ? 1u : 0u);
    std::uint32_t size = static_cast<std::uint32_t>(seg.payload.size());
    if (data_seq < r.rcv_nxt) {
      const std::uint32_t old = r.rcv_nxt.since(data_seq);
      if (size > 0) note_duplicate(r, data_seq, data_seq + std::min(old, size));
      if (old >= size) {
        if (fin && (data_seq + size) < r.rcv_nxt) fin = false;
        size = 0;
        data_seq = r.rcv_nxt;
        r.ack_pending = true;
      } else {
        if (r.sack_ok) r.ack_pending = true;  // the D-SACK at once, as input.cpp does
        size -= old;
        data_seq = r.rcv_nxt;
      }
    }
    const Seq right = r.rcv_nxt + wnd;
    if (data_seq + size > right) {
      fin = false;
      r.ack_pending = true;
    }
  }
  if (r.ts_ok && seg.options.has_timestamps) update_ts_recent(r, seg, now);

  // check_syn: in TIME-WAIT always a challenge ACK (RFC 5961 section 4), whatever
  // rfc5961_syn says.
  if (seg.syn()) {
    drop(v, DropReason::tcp_syn_in_window);
    v.ack_now = ack_rate_allows(r, cfg, now);
    return v;
  }
  if (!seg.ack_flag()) {
    drop(v, DropReason::tcp_no_ack);
    return v;
  }
  // check_ack: everything we sent is acknowledged (SND.UNA = SND.NXT).
  if (seg.ack > r.snd_nxt) {
    drop(v, DropReason::tcp_bad_ack);
    v.ack_now = ack_rate_allows(r, cfg, now);
    return v;
  }
  if (seg.ack < r.snd_nxt - r.max_snd_wnd) {
    drop(v, DropReason::tcp_bad_ack);
    v.ack_now = ack_rate_allows(r, cfg, now);  // a challenge ACK
    return v;
  }
  // update_window: the window itself is of no use any more, but its largest value is. With
  // SEG.ACK = SND.NXT, SND.WL2 <= SEG.ACK holds: SND.WL1 <= SEG.SEQ decides.
  if (seg.ack == r.snd_nxt && r.snd_wl1 <= seg.seq) {
    r.max_snd_wnd = std::max(r.max_snd_wnd, static_cast<std::uint32_t>(seg.window) << r.snd_wscale);
    r.snd_wl1 = seg.seq;
  }
  // check_fin: the FIN is old news; acknowledge it again.
  if (fin) r.ack_pending = true;
  return v;
}

OutSegment time_wait_ack(TimeWaitRecord& r, std::uint32_t ts_offset, Instant now) {
  // Connection::send_ack and fill_common.
  OutSegment s;
  s.header.src_port = r.tuple.local_port;
  s.header.dst_port = r.tuple.remote_port;
  s.header.seq = r.snd_nxt;
  s.header.ack = r.rcv_nxt;
  s.header.flags = ACK;
  s.header.window = r.window;
  r.ack_pending = false;
  // The right edge announced now stays where it is (SHLD-14): nothing is read any more.
  r.rcv_wnd = static_cast<std::uint32_t>(r.window) << r.rcv_wscale;
  if (r.ts_ok) {
    s.options.has_timestamps = true;
    s.options.ts_val = static_cast<std::uint32_t>(to_us(now) / 1000) + ts_offset;
    s.options.ts_ecr = r.ts_recent;
  }
  if (r.sack_ok && r.dsack_pending) {
    s.options.sack[0] = r.dsack;
    s.options.sack_count = 1;
    r.dsack_pending = false;  // reported
  }
  return s;
}

}  // namespace synfin::tcp

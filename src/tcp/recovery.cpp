// Loss recovery: fast retransmit and NewReno recovery for peers without SACK (RFC 5681,
// RFC 6582), the SACK scoreboard and conservative SACK-based recovery (RFC 2018, RFC 6675),
// limited transmit (RFC 3042, in output()), and the receiver's SACK and D-SACK blocks
// (RFC 2018 section 4, RFC 2883).
#include <algorithm>
#include <optional>

#include "tcp/connection.hpp"

namespace synfin::tcp {

using namespace wire::tcp_flag;
using wire::SackBlock;

// --- the sender: duplicate ACKs and recovery ----------------------------------------------

void Connection::on_duplicate_ack(const wire::TcpSegment&, bool, Instant now) {
  ++extras().dupacks_received;
  if (snd_una_ == iss_) return;  // our SYN is unacknowledged: its own timer resends it
  if (recovery_ == Recovery::newreno) {
    // RFC 6582 section 3.2 step 4: each further duplicate inflates cwnd by one segment.
    cc_.set_cwnd(cc_.cwnd() + payload_mss());
    return;
  }
  if (recovery_ == Recovery::sack) return;  // output() sends what NextSeg() picks
  if (dupacks_ < 255) ++dupacks_;
  // RFC 6675 section 5: DupThresh duplicates, or the first unacknowledged segment is lost
  // by the scoreboard's measure.
  const bool loss = dupacks_ >= cfg_->dupthresh || (sack_ok_ && is_lost(snd_una_));
  if (!loss) return;  // limited transmit (RFC 3042) happens in output()
  // RFC 6582 section 4.1: a loss in a window already recovered from (or timed out) does not
  // start another recovery until that window is acknowledged.
  if (have_recover_ && !(snd_una_ > recover_)) return;
  if (snd_nxt_ < snd_max_) return;  // resending after a timeout is under way
  enter_recovery(now);
}

void Connection::enter_recovery(Instant now) {
  ++extras().fast_retransmits;
  recover_ = snd_max_;  // RecoveryPoint = HighData
  have_recover_ = true;
  rtt_timing_ = false;
  cc_.on_congestion(flight_size(), now);
  const Seq end = data_end();
  if (sack_ok_) {
    // RFC 6675 section 5 steps 4.1 to 4.4: cwnd = ssthresh, retransmit the first segment,
    // then send what the pipe allows.
    recovery_ = Recovery::sack;
    ++extras().sack_recoveries;
    rescue_sent_ = false;
    high_rxt_ = snd_una_;
    Seq hole_end = snd_max_;
    if (!scoreboard().empty()) hole_end = seq_min(hole_end, scoreboard().front().left);
    const std::uint32_t len = std::min(payload_mss(), seq_min(hole_end, end).since(snd_una_));
    const bool fin = fin_sent() && snd_una_ + len == end && hole_end > end;
    emit_data(snd_una_, len, fin ? FIN : 0, true, now);
    high_rxt_ = snd_una_ + len + (fin ? 1u : 0u);
  } else {
    // RFC 6582 section 3.2 step 2: cwnd = ssthresh + 3 SMSS, retransmit the first segment.
    recovery_ = Recovery::newreno;
    cc_.set_cwnd(cc_.ssthresh() + 3 * payload_mss());
    const std::uint32_t len = std::min(payload_mss(), end > snd_una_ ? end.since(snd_una_) : 0u);
    const bool fin = fin_sent() && snd_una_ + len == end;
    emit_data(snd_una_, len, fin ? FIN : 0, true, now);
  }
  arm_retransmit(now);
}

// SND.UNA advanced while recovering.
void Connection::recovery_ack(std::uint32_t acked, Instant now) {
  dupacks_ = 0;
  if (snd_una_ >= recover_) {
    end_recovery();  // a full acknowledgment
    return;
  }
  if (recovery_ == Recovery::newreno) {
    // RFC 6582 section 3.2 step 5, a partial ACK: resend the next hole at once, deflate cwnd
    // by what was acknowledged and add back one segment.
    const Seq end = data_end();
    const std::uint32_t len = std::min(payload_mss(), end > snd_una_ ? end.since(snd_una_) : 0u);
    const bool fin = fin_sent() && snd_una_ + len == end;
    emit_data(snd_una_, len, fin ? FIN : 0, true, now);
    std::uint32_t w = cc_.cwnd() > acked ? cc_.cwnd() - acked : 0;
    if (acked >= payload_mss()) w += payload_mss();
    cc_.set_cwnd(w);
  }
  // SACK recovery: output() runs NextSeg() against the updated scoreboard.
  if (high_rxt_ < snd_una_) high_rxt_ = snd_una_;
}

void Connection::end_recovery() {
  cc_.on_recovery_end(flight_size());
  recovery_ = Recovery::none;
  dupacks_ = 0;
}

// --- the scoreboard ------------------------------------------------------------------------

const std::vector<SackBlock>& Connection::scoreboard() const {
  static const std::vector<SackBlock> kEmpty;
  return extras_ ? extras_->scoreboard : kEmpty;
}

bool Connection::sack_scoreboard_update(const wire::TcpSegment& seg) {
  const auto& o = seg.options;
  if (o.sack_count == 0) return false;
  std::vector<SackBlock>& board = extras().scoreboard;
  const std::uint32_t before = sacked_bytes_;
  for (std::size_t i = 0; i < o.sack_count; ++i) {
    SackBlock b = o.sack[i];
    if (!(b.left < b.right)) continue;
    // RFC 2883 section 4: a first block below the cumulative ACK, or inside the second
    // block, reports a duplicate (D-SACK), not new data.
    if (i == 0 && (b.right <= seg.ack ||
                   (o.sack_count > 1 && o.sack[1].left <= b.left && b.right <= o.sack[1].right))) {
      ++extras().dsacks_received;
      continue;
    }
    const Seq floor = seq_max(snd_una_, seg.ack);
    if (b.right <= floor || b.left >= snd_max_) continue;
    b.left = seq_max(b.left, floor);
    b.right = seq_min(b.right, snd_max_);
    // Insert and merge, keeping the board sorted and disjoint.
    auto it = std::lower_bound(board.begin(), board.end(), b.left,
                               [](const SackBlock& x, Seq s) { return x.right < s; });
    if (it == board.end() || b.right < it->left) {
      board.insert(it, b);
    } else {
      it->left = seq_min(it->left, b.left);
      it->right = seq_max(it->right, b.right);
      auto next = it + 1;
      while (next != board.end() && next->left <= it->right) {
        it->right = seq_max(it->right, next->right);
        next = board.erase(next);
      }
    }
  }
  sacked_bytes_ = 0;
  for (const auto& x : board) sacked_bytes_ += x.right.since(x.left);
  return sacked_bytes_ > before;
}

void Connection::sack_scoreboard_trim() {
  sacked_bytes_ = 0;
  if (!extras_) return;
  std::vector<SackBlock>& board = extras_->scoreboard;
  std::size_t keep = 0;
  for (SackBlock b : board) {
    if (b.right <= snd_una_) continue;
    b.left = seq_max(b.left, snd_una_);
    board[keep++] = b;
    sacked_bytes_ += b.right.since(b.left);
  }
  board.resize(keep);
  if (board.empty()) board.shrink_to_fit();
}

// RFC 6675 section 4, IsLost(SeqNum): DupThresh discontiguous SACKed blocks above it, or
// more than (DupThresh - 1) * SMSS SACKed octets.
bool Connection::is_lost(Seq s) const {
  std::uint32_t bytes = 0, blocks = 0;
  for (const auto& b : scoreboard()) {
    if (b.right <= s) continue;
    ++blocks;
    bytes += b.right.since(seq_max(b.left, s));
  }
  return blocks >= cfg_->dupthresh || bytes > (cfg_->dupthresh - 1u) * payload_mss();
}

// RFC 6675 section 4, SetPipe(): octets in flight. Inside one unSACKed hole the SACKed
// octets above are the same for every octet, so a hole is lost or not as a whole.
std::uint32_t Connection::pipe() const {
  std::uint32_t p = 0;
  auto hole = [&](Seq a, Seq b) {
    if (!(a < b)) return;
    if (!is_lost(a)) p += b.since(a);
    if (high_rxt_ > a) p += seq_min(b, high_rxt_).since(a);
  };
  Seq cur = snd_una_;
  for (const auto& blk : scoreboard()) {
    hole(cur, blk.left);
    cur = seq_max(cur, blk.right);
  }
  hole(cur, snd_max_);
  return p;
}

// RFC 6675 section 4, NextSeg(). `rtx` says whether it is a retransmission, `rescue`
// whether it is the rescue retransmission of rule 4.
bool Connection::next_segment(Seq& seq, std::uint32_t& len, bool& rtx, bool& rescue) const {
  rescue = false;
  const Seq end = data_end();
  const std::uint32_t mss = payload_mss();
  const Seq highest_sacked = scoreboard().empty() ? snd_una_ : scoreboard().back().right;
  // Rules 1 and 3: the first unSACKed octet above HighRxt; rule 1 when it is lost, rule 3
  // when it merely lies below the highest SACKed octet.
  std::optional<std::pair<Seq, Seq>> rule3;
  Seq cur = snd_una_;
  auto consider = [&](Seq a, Seq b) -> bool {
    const Seq start = seq_max(a, high_rxt_);
    if (!(start < b)) return false;
    if (is_lost(start)) {
      seq = start;
      len = std::min(mss, seq_min(b, end) > start ? seq_min(b, end).since(start) : 0u);
      rtx = true;
      return true;
    }
    if (!rule3 && b <= highest_sacked) rule3 = std::pair{start, b};
    return false;
  };
  for (const auto& blk : scoreboard()) {
    if (consider(cur, blk.left)) return true;
    cur = seq_max(cur, blk.right);
  }
  if (consider(cur, snd_max_)) return true;
  // Rule 2: new data, as far as the receiver's window allows.
  if (snd_max_ < end) {
    const Seq right = snd_una_ + snd_wnd_;
    const std::uint32_t room = right > snd_max_ ? right.since(snd_max_) : 0;
    const std::uint32_t n = std::min({mss, end.since(snd_max_), room});
    if (n > 0) {
      seq = snd_max_;
      len = n;
      rtx = false;
      return true;
    }
  }
  if (rule3) {
    seq = rule3->first;
    len = std::min(mss, seq_min(rule3->second, end) > seq ? seq_min(rule3->second, end).since(seq) : 0u);
    rtx = true;
    return true;
  }
  // Rule 4, the rescue retransmission: once per recovery, the last unSACKed segment.
  if (!rescue_sent_ && !scoreboard().empty() && highest_sacked < snd_max_) {
    const Seq last = seq_min(snd_max_, end);
    if (last > seq_max(highest_sacked, snd_una_)) {
      const Seq from = seq_max(seq_max(highest_sacked, snd_una_), last - mss);
      seq = from;
      len = last.since(from);
      rtx = true;
      rescue = true;
      return true;
    }
  }
  return false;
}

void Connection::sack_output(Instant now) {
  const std::uint32_t mss = payload_mss();
  for (int guard = 0; guard < 1024; ++guard) {
    // RFC 6675 section 5 step (C): send while cwnd - pipe >= 1 SMSS.
    if (cc_.cwnd() < pipe() + mss) break;
    const Seq end = data_end();
    Seq s;
    std::uint32_t len = 0;
    bool rtx = false, rescue = false;
    if (!next_segment(s, len, rtx, rescue)) {
      // Nothing to resend and no new data: the FIN, if it is due.
      if (fin_queued_ && snd_max_ == end) {
        emit_data(end, 0, FIN, false, now);
        snd_nxt_ = snd_max_ = end + 1;
        arm_retransmit(now);
      }
      break;
    }
    // A FIN rides along when the segment reaches the end of the data: a resent one when the
    // FIN was sent before, a new one when the user has closed.
    const bool fin = s + len == end && (rtx ? fin_sent() : fin_queued_);
    if (len == 0 && !fin) break;
    emit_data(s, len, fin ? FIN : 0, rtx, now);
    const Seq after = s + len + (fin ? 1u : 0u);
    if (rtx) {
      if (!rescue) high_rxt_ = seq_max(high_rxt_, after);  // rule 4 leaves HighRxt alone
      rescue_sent_ = rescue_sent_ || rescue;
    } else {
      if (snd_una_ == snd_max_) r2_start_ = now;
      snd_max_ = after;
      snd_nxt_ = snd_max_;
    }
    arm_retransmit(now);
  }
}

// --- the receiver: SACK and D-SACK blocks --------------------------------------------------

void Connection::note_sack_block(Seq left, Seq right) {
  // The block holding the newest segment goes first; blocks it swallowed go away.
  std::array<SackBlock, 4> kept{};
  std::uint8_t n = 0;
  kept[n++] = SackBlock{left, right};
  for (std::uint8_t i = 0; i < sack_recent_count_ && n < kept.size(); ++i) {
    const SackBlock b = extras_->sack_recent[i];
    if (b.right < left || b.left > right) kept[n++] = b;  // disjoint: keep, in order
  }
  extras().sack_recent = kept;
  sack_recent_count_ = n;
}

void Connection::prune_sack_blocks() {
  std::uint8_t n = 0;
  for (std::uint8_t i = 0; i < sack_recent_count_; ++i) {
    if (extras_->sack_recent[i].right > rcv_nxt_) extras_->sack_recent[n++] = extras_->sack_recent[i];
  }
  sack_recent_count_ = n;
}

void Connection::note_duplicate(Seq left, Seq right) {
  if (!sack_ok_ || !(left < right)) return;
  dsack_pending_ = true;
  extras().dsack = SackBlock{left, right};
}

void Connection::add_sack_option(wire::TcpOptions& o, std::size_t max_blocks) const {
  std::size_t n = 0;
  int containing = -1;
  if (dsack_pending_) {
    const SackBlock d = extras_->dsack;
    o.sack[n++] = d;
    // RFC 2883 section 4: a duplicate inside a block held above RCV.NXT is followed by
    // that block, so that the sender sees both the duplicate and where it sits.
    for (std::uint8_t i = 0; i < sack_recent_count_ && n < max_blocks; ++i) {
      const SackBlock b = extras_->sack_recent[i];
      if (b.right > rcv_nxt_ && b.left <= d.left && d.right <= b.right) {
        o.sack[n++] = b;
        containing = i;
        break;
      }
    }
  }
  for (std::uint8_t i = 0; i < sack_recent_count_ && n < max_blocks; ++i) {
    if (i == containing || extras_->sack_recent[i].right <= rcv_nxt_) continue;
    o.sack[n++] = extras_->sack_recent[i];
  }
  o.sack_count = static_cast<std::uint8_t>(n);
}

}  // namespace synfin::tcp

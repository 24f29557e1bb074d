// Congestion control baseline: slow start and congestion avoidance (RFC 5681), fast
// retransmit and NewReno fast recovery (RFC 6582). The connection owns the sequence numbers;
// this owns cwnd and ssthresh and tells the connection what to retransmit.
#pragma once

#include <algorithm>
#include <cstdint>

#include "wire/seq.hpp"

namespace synfin::tcp {

class NewReno {
 public:
  void init(std::uint32_t smss, std::uint32_t initial_segments) {
    smss_ = smss;
    cwnd_ = initial_segments * smss;
    ssthresh_ = 0x7fffffff;
    dupacks_ = 0;
    in_recovery_ = false;
    ca_acc_ = 0;
  }

  void set_smss(std::uint32_t smss) { smss_ = smss; }

  // New data acknowledged outside recovery (RFC 5681 section 3.1).
  void on_ack(std::uint32_t acked) {
    dupacks_ = 0;
    if (cwnd_ < ssthresh_) {
      cwnd_ += std::min(acked, smss_);  // slow start, appropriate byte counting with L = 1
    } else {
      // Congestion avoidance: about one SMSS per round trip (byte counting).
      ca_acc_ += acked;
      if (ca_acc_ >= cwnd_) {
        ca_acc_ -= cwnd_;
        cwnd_ += smss_;
      }
    }
  }

  // Returns true when this duplicate ACK triggers fast retransmit (RFC 6582 section 3.2).
  bool on_dupack(std::uint32_t flight, wire::Seq snd_una, wire::Seq snd_max) {
    ++dupacks_;
    if (in_recovery_) {
      cwnd_ += smss_;  // inflate for each segment that left the network
      return false;
    }
    if (dupacks_ != 3) return false;
    // Only enter a new recovery when the ACK covers more than the last one (section 4.1).
    if (has_recover_ && !(snd_una > recover_)) return false;
    ssthresh_ = std::max(flight / 2, 2 * smss_);
    cwnd_ = ssthresh_ + 3 * smss_;
    recover_ = snd_max;
    has_recover_ = true;
    in_recovery_ = true;
    return true;
  }

  // In recovery, an ACK advanced SND.UNA to `una`. Returns true on a partial ACK, after which
  // the first unacknowledged segment must be retransmitted at once (section 3.2 step 5).
  bool on_recovery_ack(wire::Seq una, std::uint32_t acked, std::uint32_t flight_after) {
    dupacks_ = 0;
    if (una >= recover_) {
      // Full acknowledgment: deflate (section 3.2 step 6, option 1).
      cwnd_ = std::min(ssthresh_, std::max(flight_after, smss_) + smss_);
      in_recovery_ = false;
      return false;
    }
    cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
    if (acked >= smss_) cwnd_ += smss_;
    cwnd_ = std::max(cwnd_, smss_);
    return true;
  }

  // Retransmission timeout (RFC 5681 section 3.1, equations 4 and 5).
  void on_timeout(std::uint32_t flight, wire::Seq snd_max) {
    ssthresh_ = std::max(flight / 2, 2 * smss_);
    cwnd_ = smss_;
    dupacks_ = 0;
    ca_acc_ = 0;
    in_recovery_ = false;
    recover_ = snd_max;  // RFC 6582 section 3.2 step 1 after a timeout
    has_recover_ = true;
  }

  // Restart after an idle period longer than the RTO (RFC 5681 section 4.1).
  void on_idle_restart(std::uint32_t initial_window) { cwnd_ = std::min(cwnd_, initial_window); }
  // The SYN or SYN-ACK was retransmitted: the initial window is one segment (section 3.1).
  void set_loss_window() { cwnd_ = smss_; }

  bool in_recovery() const { return in_recovery_; }
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  std::uint32_t dupacks() const { return dupacks_; }
  void reset_dupacks() { dupacks_ = 0; }

 private:
  std::uint32_t smss_ = 536;
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_ = 0x7fffffff;
  std::uint32_t ca_acc_ = 0;
  wire::Seq recover_;
  std::uint8_t dupacks_ = 0;
  bool in_recovery_ = false;
  bool has_recover_ = false;
};

}  // namespace synfin::tcp

// Congestion window growth and reduction: NewReno (RFC 5681) and CUBIC (RFC 9438), a closed
// set chosen per connection with a switch, no virtual call per packet.
//
// This class owns cwnd and ssthresh. Loss recovery (which segments to resend, RFC 6582
// NewReno or RFC 6675 SACK-based) lives in the connection and calls on_congestion() when a
// loss episode starts, on_recovery_end() when it ends.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "synfin/time.hpp"

namespace synfin {

enum class CongestionAlgorithm : std::uint8_t { newreno, cubic };

constexpr std::string_view to_string(CongestionAlgorithm a) {
  return a == CongestionAlgorithm::cubic ? "cubic" : "newreno";
}

}  // namespace synfin

namespace synfin::tcp {

class Congestion {
 public:
  void init(CongestionAlgorithm algo, std::uint32_t smss, std::uint32_t initial_segments) {
    algo_ = algo;
    smss_ = smss;
    cwnd_ = std::max<std::uint32_t>(initial_segments, 1) * smss;
    ssthresh_ = 0x7fffffff;
    ca_acc_ = 0;
    w_max_ = 0;
    epoch_started_ = false;
  }

  void set_smss(std::uint32_t smss) { smss_ = smss; }
  // Another algorithm from now on (a socket option on a running connection): cwnd and
  // ssthresh carry over; the new algorithm's own state starts afresh.
  void set_algorithm(CongestionAlgorithm algo) {
    if (algo == algo_) return;
    algo_ = algo;
    ca_acc_ = 0;
    ca_frac_ = 0;
    w_max_ = 0;
    epoch_started_ = false;
  }
  CongestionAlgorithm algorithm() const { return algo_; }
  std::uint32_t cwnd() const { return cwnd_; }
  std::uint32_t ssthresh() const { return ssthresh_; }
  bool in_slow_start() const { return cwnd_ < ssthresh_; }
  // NewReno fast recovery inflates and deflates the window directly (RFC 6582).
  void set_cwnd(std::uint32_t w) { cwnd_ = std::max(w, smss_); }

  // New data acknowledged outside loss recovery; `flight` is what was outstanding before
  // this ACK. A sender that was not using its window (the application had no more to send,
  // or the peer's window was the limit) learns nothing about the path from the ACK, so the
  // window grows only while it is under twice the flight (RFC 9438 section 5.8; the test
  // Linux's tcp_is_cwnd_limited makes in slow start). Without it, a flow held back by the
  // receive window grew cwnd without bound: 18 MB against a 4 MB window in `synfin bench`.
  void on_ack(std::uint32_t acked, Instant now, Duration srtt, std::uint32_t flight) {
    if (cwnd_ >= 2 * static_cast<std::uint64_t>(flight)) return;
    if (cwnd_ < ssthresh_) {
      // Slow start, appropriate byte counting with L = 1 SMSS (RFC 5681 section 3.1).
      cwnd_ += std::min(acked, smss_);
      return;
    }
    if (algo_ == CongestionAlgorithm::cubic) {
      cubic_on_ack(acked, now, srtt);
      return;
    }
    // Congestion avoidance: one SMSS per window of acknowledged data (RFC 5681 (3)).
    ca_acc_ += acked;
    if (ca_acc_ >= cwnd_) {
      ca_acc_ -= cwnd_;
      cwnd_ += smss_;
    }
  }

  // A loss episode starts (fast retransmit): ssthresh and cwnd come down.
  void on_congestion(std::uint32_t flight, Instant now) {
    if (algo_ == CongestionAlgorithm::cubic) {
      cubic_reduce(now);
    } else {
      ssthresh_ = std::max(flight / 2, 2 * smss_);  // RFC 5681 (4)
    }
    cwnd_ = ssthresh_;
    ca_acc_ = 0;
  }

  // Retransmission timeout: the loss window is one segment (RFC 5681 (5)).
  void on_timeout(std::uint32_t flight, Instant now) {
    if (algo_ == CongestionAlgorithm::cubic) {
      cubic_reduce(now);  // RFC 9438 section 4.8
    } else {
      ssthresh_ = std::max(flight / 2, 2 * smss_);
    }
    cwnd_ = smss_;
    ca_acc_ = 0;
    epoch_started_ = false;
  }

  // The loss episode is over: continue from ssthresh.
  void on_recovery_end(std::uint32_t flight) {
    // RFC 6582 section 3.2 step 6 (option 1), also right for RFC 6675.
    cwnd_ = std::min(ssthresh_, std::max(flight, smss_) + smss_);
    cwnd_ = std::max(cwnd_, std::min(ssthresh_, 2 * smss_));
  }

  // RFC 5681 section 4.1: restart after idle from the initial window.
  void on_idle_restart(std::uint32_t initial_window) {
    cwnd_ = std::min(cwnd_, initial_window);
    epoch_started_ = false;
  }

  // The SYN or SYN-ACK was retransmitted: the initial window is one segment.
  void set_loss_window() { cwnd_ = smss_; }

 private:
  // RFC 9438 constants.
  static constexpr double kC = 0.4;
  static constexpr double kBeta = 0.7;

  void cubic_reduce(Instant now) {
    const double w = static_cast<double>(cwnd_) / smss_;
    // Fast convergence (section 4.7): a flow that lost before reaching its old maximum
    // releases bandwidth for newer flows.
    if (w_max_ > 0 && w < w_max_) {
      w_max_ = w * (1.0 + kBeta) / 2.0;
    } else {
      w_max_ = w;
    }
    ssthresh_ = std::max(static_cast<std::uint32_t>(cwnd_ * kBeta), 2 * smss_);
    epoch_started_ = false;
    (void)now;
  }

  void cubic_on_ack(std::uint32_t acked, Instant now, Duration srtt) {
    const double w = static_cast<double>(cwnd_) / smss_;
    if (!epoch_started_) {
      epoch_started_ = true;
      epoch_ = now;
      if (w_max_ < w) {
        k_ = 0;
        w_max_ = w;
      } else {
        k_ = std::cbrt((w_max_ - w) / kC);  // equation (2), with cwnd_epoch = cwnd
      }
      w_est_ = w;
    }
    const double t = to_seconds(now - epoch_) + to_seconds(srtt);
    const double w_cubic = kC * (t - k_) * (t - k_) * (t - k_) + w_max_;  // equation (1)
    // The Reno-friendly estimate (section 4.3), alpha = 3 (1 - beta) / (1 + beta).
    const double alpha = 3.0 * (1.0 - kBeta) / (1.0 + kBeta);
    const double segs = static_cast<double>(acked) / smss_;
    w_est_ += alpha * segs / w;
    double target;
    if (w_cubic < w_est_) {
      target = w_est_;
    } else {
      target = std::clamp(w_cubic, w, 1.5 * w);  // section 4.4, 4.5
    }
    const double grow = (target - w) / w * segs;  // per acknowledged segment
    if (grow > 0) {
      ca_frac_ += grow * smss_;
      const auto whole = static_cast<std::uint32_t>(ca_frac_);
      cwnd_ += whole;
      ca_frac_ -= whole;
    }
  }

  CongestionAlgorithm algo_ = CongestionAlgorithm::newreno;
  std::uint32_t smss_ = 536;
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_ = 0x7fffffff;
  std::uint32_t ca_acc_ = 0;
  // CUBIC state (in segments and seconds)
  bool epoch_started_ = false;
  Instant epoch_{};
  double w_max_ = 0;
  double k_ = 0;
  double w_est_ = 0;
  double ca_frac_ = 0;
};

}  // namespace synfin::tcp

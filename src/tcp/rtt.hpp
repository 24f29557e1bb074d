// Round-trip time estimation and the retransmission timeout (RFC 6298, MUST-18).
#pragma once

#include <algorithm>

#include "synfin/config.hpp"

namespace synfin::tcp {

class RttEstimator {
 public:
  void reset(const TcpConfig& c) {
    srtt_ = Duration::zero();
    rttvar_ = Duration::zero();
    rto_ = c.initial_rto;
    has_sample_ = false;
    slop_ = Duration::zero();
  }

  // RFC 6298 section 2: the first sample sets SRTT = R, RTTVAR = R/2; later ones smooth with
  // alpha = 1/8 and beta = 1/4. RTO = SRTT + max(G, 4 * RTTVAR), within [min_rto, max_rto].
  void sample(Duration r, const TcpConfig& c) {
    if (r < Duration::zero()) r = Duration::zero();
    if (!has_sample_) {
      srtt_ = r;
      rttvar_ = r / 2;
      has_sample_ = true;
    } else {
      const Duration err = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = (3 * rttvar_ + err) / 4;
      srtt_ = (7 * srtt_ + r) / 8;
    }
    rto_ = std::clamp(srtt_ + std::max(c.clock_granularity, 4 * rttvar_), c.min_rto, c.max_rto);
    slop_ = c.rto_slop;
  }

  // Section 5.5: double the RTO on expiry, up to the maximum.
  void backoff(const TcpConfig& c) {
    rto_ = std::min(rto_ * 2, c.max_rto);
    slop_ = c.rto_slop;
  }

  // Section 5.7: after a SYN timed out, data starts with an RTO of at least 3 s.
  void raise_to(Duration floor) { rto_ = std::max(rto_, floor); }

  bool has_sample() const { return has_sample_; }
  Duration srtt() const { return srtt_; }
  Duration rttvar() const { return rttvar_; }
  // The RTO, with the configured slop once it comes from samples or backoff.
  Duration rto() const { return rto_ + slop_; }

 private:
  Duration srtt_{};
  Duration rttvar_{};
  Duration rto_ = 1s;
  bool has_sample_ = false;
  Duration slop_{};
};

}  // namespace synfin::tcp

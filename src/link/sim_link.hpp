// An in-memory link joining two stacks, with seeded impairments in each direction: loss,
// duplication, reordering, corruption (bit flips, which checksums must catch), fixed delay
// and jitter, a bandwidth limit with a bounded queue, and an MTU. The same seed gives the
// same run, packet for packet.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "synfin/result.hpp"
#include "synfin/time.hpp"

namespace synfin::link {

struct Impairments {
  double loss = 0;        // probability a packet is dropped
  double duplicate = 0;   // probability a packet is delivered twice
  double reorder = 0;     // probability a packet is held back so that later ones overtake it
  double corrupt = 0;     // probability one bit of a packet is flipped
  Duration delay{};       // one-way propagation delay
  Duration jitter{};      // extra delay, uniform in [0, jitter], per packet
  std::uint64_t bandwidth_bps = 0;  // 0: unlimited
  std::uint32_t queue_bytes = 0;    // bottleneck queue; 0: unlimited
  std::uint16_t mtu = 0;            // larger packets are dropped; 0: no limit

  // "loss=0.05,delay=10ms,jitter=2ms,reorder=0.01,duplicate=0.01,corrupt=0,rate=100mbit,queue=64k,mtu=1500"
  static Result<Impairments, std::string> parse(std::string_view spec, std::uint64_t* seed = nullptr);
};

struct LinkStats {
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t corrupted = 0;
  std::uint64_t queue_drops = 0;
  std::uint64_t mtu_drops = 0;
  std::uint64_t bytes_delivered = 0;
};

class SimLink {
 public:
  enum Side : int { A = 0, B = 1 };

  SimLink(const Impairments& a_to_b, const Impairments& b_to_a, std::uint64_t seed);

  // A packet leaves `from` at `now`.
  void send(Side from, std::span<const std::uint8_t> packet, Instant now);
  // The earliest arrival still in flight; kNever if none.
  Instant next_arrival() const;
  // Delivers every packet that has arrived by `now`, in arrival order: f(to_side, bytes).
  template <typename F>
  void deliver(Instant now, F&& f) {
    while (!flight_.empty() && flight_.top().arrive <= now) {
      InFlight p = flight_.top();
      flight_.pop();
      ++dir_[p.to].stats.delivered;
      dir_[p.to].stats.bytes_delivered += p.bytes.size();
      f(static_cast<Side>(p.to), std::span<const std::uint8_t>(p.bytes), p.arrive);
    }
  }
  std::size_t in_flight() const { return flight_.size(); }
  // Told of each impairment as it happens: lost, queue-dropped, mtu-dropped, corrupted,
  // duplicated; with the packet as sent.
  using Observer = std::function<void(Side to, std::string_view what, std::span<const std::uint8_t> packet)>;
  void set_observer(Observer o) { observer_ = std::move(o); }
  // Stats of the direction towards `to`.
  const LinkStats& stats_towards(Side to) const { return dir_[to].stats; }
  Impairments& impairments_towards(Side to) { return dir_[to].imp; }

 private:
  struct InFlight {
    Instant arrive;
    std::uint64_t order;
    int to;
    std::vector<std::uint8_t> bytes;
  };
  struct Later {
    bool operator()(const InFlight& a, const InFlight& b) const {
      return a.arrive != b.arrive ? a.arrive > b.arrive : a.order > b.order;
    }
  };
  struct Direction {
    Impairments imp;
    Instant busy_until{};
    LinkStats stats;
  };

  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  Duration uniform(Duration max);
  void enqueue(int to, std::span<const std::uint8_t> packet, Instant arrive);

  Direction dir_[2];  // indexed by the receiving side
  std::priority_queue<InFlight, std::vector<InFlight>, Later> flight_;
  std::mt19937_64 rng_;
  std::uint64_t order_ = 0;
  Observer observer_;
};

}  // namespace synfin::link

// A discrete-event driver for two stacks joined by a SimLink: it advances virtual time
// straight to the next packet arrival or timer deadline, so a two-minute TIME-WAIT costs
// microseconds. The application acts between steps.
#pragma once

#include "link/pcap.hpp"
#include "link/sim_link.hpp"
#include "synfin/stack.hpp"

namespace synfin::link {

class Simulation {
 public:
  Simulation(Stack& a, Stack& b, SimLink& link, Instant start = at(Duration::zero()));

  Instant now() const { return now_; }
  Stack& a() { return *a_; }
  Stack& b() { return *b_; }
  SimLink& link() { return *link_; }

  // Captures what side A sends and receives.
  void tap(PcapWriter* pcap) { tap_ = pcap; }

  // Sends what the stacks queued, then moves time to the next event (if it is not after
  // `limit`) and processes it. Returns false when nothing is left to happen before `limit`.
  bool step(Instant limit = kNever);
  // Hands queued packets to the link without moving time.
  void flush();
  // Moves time forward to `t` (processing everything due before).
  void run_to(Instant t);
  // Injects a raw packet as if it arrived at `to` now.
  void inject(SimLink::Side to, std::span<const std::uint8_t> packet);

  template <typename Done>
  bool run_until(Done&& done, Instant limit) {
    while (!done()) {
      if (!step(limit)) return done();
    }
    return true;
  }

 private:
  struct Port : PacketSink {
    Simulation* sim = nullptr;
    SimLink::Side side = SimLink::A;
    void send_packet(std::span<const std::uint8_t> p, Instant now) override;
  };

  Stack* a_;
  Stack* b_;
  SimLink* link_;
  Instant now_;
  PcapWriter* tap_ = nullptr;
  Port port_a_;
  Port port_b_;
};

}  // namespace synfin::link

// The discrete-event driver. See simulation.hpp.
#include "link/simulation.hpp"

#include <algorithm>

namespace synfin::link {

Simulation::Simulation(Stack& a, Stack& b, SimLink& link, Instant start)
    : a_(&a), b_(&b), link_(&link), now_(start) {
  port_a_.sim = this;
  port_a_.side = SimLink::A;
  port_b_.sim = this;
  port_b_.side = SimLink::B;
}

void Simulation::Port::send_packet(std::span<const std::uint8_t> p, Instant now) {
  if (side == SimLink::A && sim->tap_ != nullptr) sim->tap_->write(p, now);
  sim->link_->send(side, p, now);
}

void Simulation::flush() {
  // Sending may not produce more to send, but a round or two settles it.
  for (int i = 0; i < 4 && (a_->pending_packets() + b_->pending_packets()) > 0; ++i) {
    a_->transmit(port_a_, now_);
    b_->transmit(port_b_, now_);
  }
}

void Simulation::inject(SimLink::Side to, std::span<const std::uint8_t> packet) {
  if (to == SimLink::A && tap_ != nullptr) tap_->write(packet, now_);
  (to == SimLink::A ? a_ : b_)->receive(packet, now_);
  flush();
}

bool Simulation::step(Instant limit) {
  flush();
  const Instant next = std::min({link_->next_arrival(), a_->next_deadline(), b_->next_deadline()});
  if (next == kNever || next > limit) return false;
  now_ = std::max(now_, next);
  link_->deliver(now_, [&](SimLink::Side to, std::span<const std::uint8_t> bytes, Instant) {
    if (to == SimLink::A && tap_ != nullptr) tap_->write(bytes, now_);
    (to == SimLink::A ? a_ : b_)->receive(bytes, now_);
  });
  a_->poll(now_);
  b_->poll(now_);
  flush();
  return true;
}

void Simulation::run_to(Instant t) {
  while (step(t)) {
  }
  if (t != kNever && t > now_) {
    now_ = t;
    a_->poll(now_);
    b_->poll(now_);
    flush();
  }
}

}  // namespace synfin::link

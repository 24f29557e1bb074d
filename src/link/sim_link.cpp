// The simulated link. See sim_link.hpp.
#include "link/sim_link.hpp"

#include <algorithm>
#include <charconv>

namespace synfin::link {

namespace {

Result<double, std::string> parse_number(std::string_view v, std::string_view key) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || p == v.data()) return fail(std::string("bad number for ") + std::string(key));
  return d;
}

// "10ms", "2s", "500us", "0"
Result<Duration, std::string> parse_duration(std::string_view v, std::string_view key) {
  std::size_t unit = v.find_first_not_of("0123456789.");
  const std::string_view num = v.substr(0, unit);
  const std::string_view suffix = unit == std::string_view::npos ? "" : v.substr(unit);
  auto n = parse_number(num, key);
  if (!n) return fail(n.error());
  double us = *n;
  if (suffix.empty() || suffix == "ms") us *= 1000;
  else if (suffix == "s") us *= 1e6;
  else if (suffix == "us") {
  } else {
    return fail(std::string("bad time unit for ") + std::string(key) + " (use us, ms or s)");
  }
  return Duration{static_cast<std::int64_t>(us)};
}

Result<double, std::string> parse_probability(std::string_view v, std::string_view key) {
  const bool percent = !v.empty() && v.back() == '%';
  auto n = parse_number(percent ? v.substr(0, v.size() - 1) : v, key);
  if (!n) return n;
  const double p = percent ? *n / 100 : *n;
  if (p < 0 || p > 1) return fail(std::string(key) + " must be between 0 and 1 (or 0% and 100%)");
  return p;
}

// "100mbit", "1gbit", "64k" style sizes.
Result<double, std::string> parse_scaled(std::string_view v, std::string_view key) {
  std::size_t unit = v.find_first_not_of("0123456789.");
  auto n = parse_number(v.substr(0, unit), key);
  if (!n) return n;
  std::string_view s = unit == std::string_view::npos ? "" : v.substr(unit);
  double m = 1;
  if (s.starts_with("k") || s.starts_with("K")) m = 1e3;
  else if (s.starts_with("m") || s.starts_with("M")) m = 1e6;
  else if (s.starts_with("g") || s.starts_with("G")) m = 1e9;
  return *n * m;
}

}  // namespace

Result<Impairments, std::string> Impairments::parse(std::string_view spec, std::uint64_t* seed) {
  Impairments imp;
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    const std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return fail("expected key=value, got '" + std::string(item) + "'");
    const std::string_view k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "loss" || k == "duplicate" || k == "reorder" || k == "corrupt") {
      auto p = parse_probability(v, k);
      if (!p) return fail(p.error());
      (k == "loss" ? imp.loss : k == "duplicate" ? imp.duplicate : k == "reorder" ? imp.reorder : imp.corrupt) = *p;
    } else if (k == "delay" || k == "jitter") {
      auto d = parse_duration(v, k);
      if (!d) return fail(d.error());
      (k == "delay" ? imp.delay : imp.jitter) = *d;
    } else if (k == "rate" || k == "bandwidth") {
      auto r = parse_scaled(v, k);
      if (!r) return fail(r.error());
      imp.bandwidth_bps = static_cast<std::uint64_t>(*r);
    } else if (k == "queue") {
      auto q = parse_scaled(v, k);
      if (!q) return fail(q.error());
      imp.queue_bytes = static_cast<std::uint32_t>(*q);
    } else if (k == "mtu") {
      auto m = parse_number(v, k);
      if (!m || *m < 68 || *m > 65535) return fail(std::string("mtu must be between 68 and 65535"));
      imp.mtu = static_cast<std::uint16_t>(*m);
    } else if (k == "seed") {
      auto s = parse_number(v, k);
      if (!s) return fail(s.error());
      if (seed != nullptr) *seed = static_cast<std::uint64_t>(*s);
    } else {
      return fail("unknown impairment '" + std::string(k) +
                  "' (known: loss, delay, jitter, reorder, duplicate, corrupt, rate, queue, mtu, seed)");
    }
  }
  return imp;
}

SimLink::SimLink(const Impairments& a_to_b, const Impairments& b_to_a, std::uint64_t seed)
    : rng_(seed) {
  dir_[B].imp = a_to_b;
  dir_[A].imp = b_to_a;
}

Duration SimLink::uniform(Duration max) {
  if (max <= Duration::zero()) return Duration::zero();
  return Duration{std::uniform_int_distribution<std::int64_t>(0, max.count())(rng_)};
}

Instant SimLink::next_arrival() const { return flight_.empty() ? kNever : flight_.top().arrive; }

void SimLink::enqueue(int to, std::span<const std::uint8_t> packet, Instant arrive) {
  flight_.push(InFlight{arrive, order_++, to, std::vector<std::uint8_t>(packet.begin(), packet.end())});
}

void SimLink::send(Side from, std::span<const std::uint8_t> packet, Instant now) {
  const int to = from == A ? B : A;
  Direction& d = dir_[to];
  const Impairments& imp = d.imp;
  ++d.stats.sent;
  auto tell = [&](std::string_view what) {
    if (observer_) observer_(static_cast<Side>(to), what, packet);
  };
  if (imp.mtu != 0 && packet.size() > imp.mtu) {
    ++d.stats.mtu_drops;
    tell("dropped (larger than the MTU)");
    return;
  }
  // The bottleneck: packets leave one after another at the link rate; the queue is bounded.
  Instant depart = now;
  if (imp.bandwidth_bps != 0) {
    const Instant start = std::max(now, d.busy_until);
    if (imp.queue_bytes != 0) {
      const double backlog_bytes = to_seconds(start - now) * static_cast<double>(imp.bandwidth_bps) / 8;
      if (backlog_bytes + static_cast<double>(packet.size()) > imp.queue_bytes) {
        ++d.stats.queue_drops;
        tell("dropped (queue full)");
        return;
      }
    }
    const auto tx_us = static_cast<std::int64_t>(static_cast<double>(packet.size()) * 8e6 /
                                                 static_cast<double>(imp.bandwidth_bps));
    depart = start + Duration{tx_us};
    d.busy_until = depart;
  }
  if (chance(imp.loss)) {
    ++d.stats.lost;
    tell("lost");
    return;
  }
  Instant arrive = depart + imp.delay + uniform(imp.jitter);
  if (chance(imp.reorder)) {
    ++d.stats.reordered;
    arrive += uniform(std::max<Duration>({imp.delay, imp.jitter, Duration{1000}}) * 2) + Duration{1};
  }
  if (chance(imp.corrupt) && !packet.empty()) {
    ++d.stats.corrupted;
    tell("damaged (one bit flipped)");
    std::vector<std::uint8_t> bad(packet.begin(), packet.end());
    const std::size_t bit = std::uniform_int_distribution<std::size_t>(0, bad.size() * 8 - 1)(rng_);
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    enqueue(to, bad, arrive);
  } else {
    enqueue(to, packet, arrive);
  }
  if (chance(imp.duplicate)) {
    ++d.stats.duplicated;
    tell("duplicated");
    enqueue(to, packet, arrive + uniform(std::max(imp.jitter, Duration{100})));
  }
}

}  // namespace synfin::link

// Two stacks over the simulated link, exchanging a byte pattern in both directions and
// closing in a chosen order. Used by the simulation property tests.
#pragma once

#include <cstdint>
#include <string>

#include "link/sim_link.hpp"

namespace synfin::test {

using namespace std::chrono_literals;

enum class CloseOrder { client_first, server_first, simultaneous, half_close, client_abort };

struct SimCase {
  std::uint64_t seed = 1;
  link::Impairments imp;   // both directions
  std::size_t client_bytes = 0;  // client -> server
  std::size_t server_bytes = 0;  // server -> client
  CloseOrder order = CloseOrder::client_first;
  Duration limit = 7200s;
};

struct SimOutcome {
  bool ok = false;
  std::string failure;   // what went wrong, empty when ok
  double virtual_seconds = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes_delivered = 0;
};

SimOutcome run_sim_case(const SimCase& c);
std::string describe(const SimCase& c);

}  // namespace synfin::test

// Errors a user of synfin sees: values with clear names, never exceptions.
#pragma once

#include <cstdint>
#include <string_view>

namespace synfin {

enum class Error : std::uint8_t {
  none = 0,
  would_block,        // nothing to read yet, or no room to write
  refused,            // the peer answered our SYN with a reset
  reset,              // the peer reset an established connection
  timed_out,          // retransmissions, keep-alive or the user timeout gave up
  address_in_use,     // the 4-tuple or listening port is taken
  invalid_state,      // the call makes no sense in the connection's state
  closing,            // the sending side is already closed (after shutdown/close)
  not_connected,      // no connection behind this handle
  invalid_argument,   // bad address, port, size or option value
  unreachable,        // a hard ICMP error or no route
  aborted,            // aborted locally
  no_resources,       // a table, queue or buffer limit was reached
};

constexpr std::string_view to_string(Error e) {
  switch (e) {
    case Error::none: return "none";
    case Error::would_block: return "would block";
    case Error::refused: return "connection refused";
    case Error::reset: return "connection reset";
    case Error::timed_out: return "timed out";
    case Error::address_in_use: return "address in use";
    case Error::invalid_state: return "invalid state";
    case Error::closing: return "connection closing";
    case Error::not_connected: return "not connected";
    case Error::invalid_argument: return "invalid argument";
    case Error::unreachable: return "unreachable";
    case Error::aborted: return "aborted";
    case Error::no_resources: return "no resources";
  }
  return "unknown";
}

}  // namespace synfin

// An HTTP/1.1 client on synfin sockets: one request (GET or HEAD), the status line and the
// body handed over as they arrive. It fails with a clear outcome rather than hanging: the
// connection refused, reset, closed early, or timed out (connecting, or no data for a
// while), or a response that is not HTTP.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "http/parser.hpp"
#include "runtime/event_loop.hpp"
#include "synfin/stack.hpp"

namespace synfin::http {

using namespace std::chrono_literals;

struct Url {
  Ipv4Addr host;
  std::uint16_t port = 80;
  std::string host_text;  // as written, for the Host field
  std::string path = "/";
};

// http://A.B.C.D[:port][/path]; the host must be an IPv4 address (synfin has no resolver).
Result<Url, std::string> parse_url(std::string_view text);

struct ClientOptions {
  Url url;
  bool head = false;
  Duration connect_timeout = 10s;
  Duration idle_timeout = 30s;  // no data for this long once connected
  std::string user_agent = "synfin/0.1";
  // Every piece of the body, in order.
  std::function<void(std::string_view)> on_body;
  // The response head, once it is complete.
  std::function<void(const Response&)> on_head;
};

enum class Outcome : std::uint8_t {
  pending,
  ok,            // a complete response
  refused,       // the server answered the SYN with a reset
  reset,         // reset after the connection was established
  closed_early,  // the server closed before the whole response arrived
  timed_out,     // connecting, or waiting for data
  bad_response,  // not HTTP/1.x
  local_error,   // connect() refused by our own stack (address, route)
  interrupted,   // SIGINT/SIGTERM
};

std::string_view to_string(Outcome o);

class Client final : public runtime::Application {
 public:
  Client(Stack& stack, ClientOptions opts);

  void start(Instant now) override;
  void on_event(const SocketEvent& e, Instant now) override;
  void on_pass(Instant now) override;
  Instant next_deadline() const override;
  void on_stop_request(Instant now) override;
  bool done() const override { return outcome_ != Outcome::pending && !lingering_; }

  Outcome outcome() const { return outcome_; }
  // A sentence for the user about what went wrong (empty when ok).
  const std::string& message() const { return message_; }
  const Response& response() const { return parser_.response(); }
  std::uint64_t body_bytes() const { return parser_.body_bytes(); }
  Instant connected_at() const { return connected_at_; }
  Instant finished_at() const { return finished_at_; }

 private:
  void finish(Outcome o, std::string message, Instant now);
  void pump(Instant now);

  Stack* stack_;
  ClientOptions opts_;
  Parser parser_;
  Handle h_;
  bool have_socket_ = false;
  bool connected_ = false;
  bool lingering_ = false;  // the response is complete: waiting for the server's FIN
  std::string request_;
  std::size_t request_off_ = 0;
  Outcome outcome_ = Outcome::pending;
  std::string message_;
  Instant started_{};
  Instant connected_at_{};
  Instant finished_at_{};
  Instant deadline_ = kNever;
  std::vector<std::uint8_t> buf_;
};

}  // namespace synfin::http

// An HTTP/1.1 server on synfin sockets (RFC 9110, RFC 9112): GET and HEAD of the files under
// a root directory, or a built-in page. Persistent connections by default (HTTP/1.1; 1.0
// with "Connection: keep-alive"), "Connection: close" honoured, a Keep-Alive header giving
// the idle timeout and the requests left, an idle timeout, a cap on requests per connection
// and on concurrent connections, pipelined requests answered in order. Malformed or
// oversized requests get 400, 413, 414, 431, 501 or 505 and the connection is closed.
//
// Closing is graceful: the server half-closes after its last response, reads and discards
// until the client's FIN (bounded by a linger time), then lets go of the socket, so that a
// client's unread request bytes never turn the close into a reset.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/parser.hpp"
#include "runtime/event_loop.hpp"
#include "synfin/stack.hpp"

namespace synfin::http {

using namespace std::chrono_literals;

struct ServerOptions {
  Ipv4Addr addr;             // unspecified: every address of the stack
  std::uint16_t port = 80;
  std::string root;          // a real path (no trailing '/'); empty: the built-in page
  Duration idle_timeout = 60s;
  std::uint32_t max_requests = 100;     // per connection
  std::uint32_t max_connections = 100;  // beyond this, connections wait in the listen queue
  std::uint32_t backlog = 128;
  Duration linger = 5s;      // after our FIN, the wait for the client's
  bool quiet = false;        // no access log
  std::FILE* log = stdout;
  Limits limits;
};

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t status_classes[6] = {};  // index status / 100
  std::uint64_t resets = 0;              // connections reset by the client
  std::uint64_t timeouts = 0;            // idle or linger timeouts
  std::uint64_t bytes_sent = 0;          // response bytes queued
};

class Server final : public runtime::Application {
 public:
  Server(Stack& stack, ServerOptions opts);
  ~Server() override;

  void start(Instant now) override;
  void on_event(const SocketEvent& e, Instant now) override;
  void on_pass(Instant now) override;
  Instant next_deadline() const override { return sweep_at_; }
  void on_stop_request(Instant now) override;
  // Stopping ends once every connection has finished closing (TIME-WAIT aside): leaving
  // earlier would strand the kernel's side in FIN-WAIT-2 or LAST-ACK.
  bool done() const override {
    return failed_ || (stopping_ && conns_.empty() &&
                       stack_->connection_count() ==
                           stack_->counters().connections_by_state[static_cast<std::size_t>(TcpState::time_wait)]);
  }

  // Why start() failed (empty if it did not).
  const std::string& error() const { return error_; }
  std::size_t open_connections() const { return conns_.size(); }
  const ServerStats& stats() const { return stats_; }

 private:
  struct Conn;
  void accept_more(Instant now);
  void reap();
  void service(Conn& c, Instant now);
  bool read_input(Conn& c, Instant now);
  bool pump(Conn& c, Instant now);
  void handle_request(Conn& c, Instant now);
  void respond(Conn& c, int status, std::string_view content_type, std::string body,
               const std::vector<std::pair<std::string, std::string>>& extra, Instant now);
  void respond_error(Conn& c, int status, const std::string& why, bool close, Instant now);
  void finish_response(Conn& c, Instant now);
  void begin_shutdown(Conn& c, Instant now);
  void drop(Conn& c, const char* why, bool abort, Instant now);
  void log_request(Conn& c, const char* note, Instant now);
  void sweep(Instant now);
  void want_sweep(Instant at) { sweep_at_ = std::min(sweep_at_, at); }
  std::string builtin_page() const;
  Conn* find(Handle h);

  Stack* stack_;
  ServerOptions opts_;
  Handle listener_;
  bool listening_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  bool accept_pending_ = false;
  std::string error_;
  std::unordered_map<std::uint32_t, std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> dirty_;
  std::vector<std::uint32_t> dead_;
  Instant sweep_at_ = kNever;
  ServerStats stats_;
  std::vector<std::uint8_t> io_buf_;
};

// The Date field value for now (IMF-fixdate, RFC 9110 section 5.6.7).
std::string http_date();

}  // namespace synfin::http

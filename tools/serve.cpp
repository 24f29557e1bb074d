// `synfin serve`: the HTTP/1.1 server on a TUN device. See net_commands.hpp.
#include <sys/stat.h>

#include <climits>
#include <cstdlib>

#include <fmt/format.h>

#include "http/server.hpp"
#include "net_commands.hpp"

namespace synfin::tools {

int run_serve(const ServeOptions& o) {
  http::ServerOptions so;
  so.port = static_cast<std::uint16_t>(o.port);
  so.idle_timeout = Duration{static_cast<std::int64_t>(o.idle_timeout * 1e6)};
  so.max_requests = o.max_requests;
  so.max_connections = o.max_connections;
  so.backlog = std::max<std::uint32_t>(128, o.max_connections);
  so.quiet = o.quiet;
  if (!o.root.empty()) {
    char real[PATH_MAX];
    struct stat st {};
    if (::realpath(o.root.c_str(), real) == nullptr || ::stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
      fmt::print(stderr, "synfin serve: --root {}: not a directory we can read\n", o.root);
      return kExitSetup;
    }
    so.root = real;
  }
  auto ctx = NetContext::open(o.net);
  if (!ctx) {
    fmt::print(stderr, "synfin serve: {}\n", ctx.error());
    return kExitSetup;
  }
  NetContext& net = **ctx;
  http::Server server(net.stack(), so);
  fmt::print(stderr, "synfin serve: listening on {}:{} ({}), serving {}\n", net.addr().to_string(), so.port,
             net.describe(), so.root.empty() ? "the built-in page" : so.root);
  const bool clean = net.loop().run(server);
  if (!server.error().empty()) {
    fmt::print(stderr, "synfin serve: {}\n", server.error());
    return kExitSetup;
  }
  const http::ServerStats& st = server.stats();
  const std::size_t open = net.stack().connection_count() -
                           net.stack().counters().connections_by_state[static_cast<std::size_t>(TcpState::time_wait)];
  fmt::print(stderr,
             "synfin serve: stopped{}; {} requests on {} connection(s) ({} reset by clients, {} timed out); "
             "connections open: {}\n",
             clean ? "" : " before every connection had closed", st.requests, st.connections, st.resets, st.timeouts,
             open);
  if (o.net.stats) net.print_stats(stderr);
  return 0;
}

}  // namespace synfin::tools

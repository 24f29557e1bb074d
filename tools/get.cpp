// `synfin get`: the HTTP/1.1 client on a TUN device. See net_commands.hpp.
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "http/client.hpp"
#include "net_commands.hpp"

namespace synfin::tools {

int run_get(const GetOptions& o) {
  auto url = http::parse_url(o.url);
  if (!url) {
    fmt::print(stderr, "synfin get: {}\n", url.error());
    return kExitSetup;
  }
  std::FILE* out = stdout;
  if (!o.out.empty() && o.out != "-") {
    out = std::fopen(o.out.c_str(), "wb");
    if (out == nullptr) {
      fmt::print(stderr, "synfin get: cannot write {}: {}\n", o.out, std::strerror(errno));
      return kExitSetup;
    }
  }
  auto ctx = NetContext::open(o.net);
  if (!ctx) {
    fmt::print(stderr, "synfin get: {}\n", ctx.error());
    if (out != stdout) std::fclose(out);
    return kExitSetup;
  }
  NetContext& net = **ctx;
  bool write_failed = false;
  http::ClientOptions co;
  co.url = *url;
  co.head = o.head;
  co.connect_timeout = Duration{static_cast<std::int64_t>(o.connect_timeout * 1e6)};
  co.idle_timeout = Duration{static_cast<std::int64_t>(o.timeout * 1e6)};
  co.on_body = [&](std::string_view piece) {
    if (!write_failed && std::fwrite(piece.data(), 1, piece.size(), out) != piece.size()) write_failed = true;
  };
  co.on_head = [&](const http::Response& r) {
    if (o.quiet) return;
    fmt::print(stderr, "HTTP/1.{} {} {}\n", r.version_minor, r.status, r.reason);
    if (o.include) {
      for (const auto& h : r.headers.list()) fmt::print(stderr, "{}: {}\n", h.name, h.value);
      fmt::print(stderr, "\n");
    }
  };
  http::Client client(net.stack(), co);
  net.loop().run(client);
  if (std::fflush(out) != 0) write_failed = true;
  if (out != stdout && std::fclose(out) != 0) write_failed = true;
  if (o.net.stats) net.print_stats(stderr);

  switch (client.outcome()) {
    case http::Outcome::ok: break;
    case http::Outcome::refused:
      fmt::print(stderr, "synfin get: {}\n", client.message());
      return kExitRefused;
    case http::Outcome::reset:
    case http::Outcome::closed_early:
      fmt::print(stderr, "synfin get: {}\n", client.message());
      return kExitReset;
    case http::Outcome::timed_out:
      fmt::print(stderr, "synfin get: {}\n", client.message());
      return kExitTimeout;
    case http::Outcome::bad_response:
      fmt::print(stderr, "synfin get: {}\n", client.message());
      return kExitBadResponse;
    case http::Outcome::interrupted:
      fmt::print(stderr, "synfin get: interrupted\n");
      return kExitInterrupted;
    case http::Outcome::local_error:
    case http::Outcome::pending:
      fmt::print(stderr, "synfin get: {}\n", client.message().empty() ? "failed" : client.message());
      return kExitSetup;
  }
  if (write_failed) {
    fmt::print(stderr, "synfin get: writing the body to {} failed\n", o.out.empty() ? "standard output" : o.out);
    return kExitSetup;
  }
  const int status = client.response().status;
  if (!o.quiet) {
    const double secs = std::max(1e-6, to_seconds(client.finished_at() - client.connected_at()));
    fmt::print(stderr, "synfin get: {} body bytes in {:.3f} s ({:.1f} MB/s)\n", client.body_bytes(), secs,
               static_cast<double>(client.body_bytes()) / secs / 1e6);
  }
  if (status >= 400) {
    if (o.quiet) fmt::print(stderr, "synfin get: the server answered {} {}\n", status, client.response().reason);
    return kExitHttpError;
  }
  return 0;
}

}  // namespace synfin::tools

// Registration of serve, get and nc on the command line. See net_commands.hpp.
#include "net_commands.hpp"

namespace synfin::tools {

NetworkCommands::NetworkCommands(CLI::App& app) {
  // --- serve ---
  serve_cmd_ = app.add_subcommand(
      "serve",
      "An HTTP/1.1 server on synfin, reached by the kernel (curl, browsers) over a TUN device. It serves GET and "
      "HEAD of the files under --root, or a built-in page; connections are kept alive by default. SIGINT or "
      "SIGTERM closes the connections gracefully and exits.");
  auto* s = serve_cmd_;
  add_net_options(s, serve_.net);
  s->add_option("--port", serve_.port, "TCP port to listen on")->check(CLI::Range(1, 65535))->capture_default_str();
  s->add_option("--root", serve_.root, "Serve the files under this directory (default: a built-in page)");
  s->add_option("--idle-timeout", serve_.idle_timeout,
                "Seconds an idle keep-alive connection stays open (sent to clients as Keep-Alive: timeout=T)")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  s->add_option("--max-requests", serve_.max_requests,
                "Requests served on one connection before it is closed (Keep-Alive: max=M)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  s->add_option("--max-connections", serve_.max_connections,
                "Connections served at once; more wait in the listen queue until one closes")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  s->add_flag("--quiet", serve_.quiet, "No access log (one line per request on standard output otherwise)");
  s->footer(
      "Example (as root; the namespace keeps everything off the host's network):\n"
      "  ip netns add synfin-demo\n"
      "  ip netns exec synfin-demo ip tuntap add dev tun0 mode tun\n"
      "  ip netns exec synfin-demo ip addr add 10.0.0.1/24 dev tun0\n"
      "  ip netns exec synfin-demo ip link set tun0 up\n"
      "  ip netns exec synfin-demo synfin serve --tun tun0 --addr 10.0.0.2/24 --root /usr/share/doc &\n"
      "  ip netns exec synfin-demo curl -v http://10.0.0.2/\n"
      "  kill %1; ip netns del synfin-demo");

  // --- get ---
  get_cmd_ = app.add_subcommand(
      "get",
      "An HTTP/1.1 client on synfin: fetches one URL from a server the kernel runs, over a TUN device. The status "
      "line goes to standard error, the body to standard output or --out. Exit status: 0 success, 1 bad options "
      "or no TUN device, 3 connection refused, 4 reset or closed early, 5 timed out, 6 not an HTTP response, "
      "8 the server answered with an error status (4xx, 5xx), 130 interrupted.");
  auto* g = get_cmd_;
  g->add_option("url", get_.url, "http://A.B.C.D[:PORT]/path (an IPv4 address: synfin has no resolver)")->required();
  add_net_options(g, get_.net);
  g->add_option("-o,--out", get_.out, "Write the body to this file instead of standard output");
  g->add_option("--connect-timeout", get_.connect_timeout, "Seconds to wait for the connection to open")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  g->add_option("--timeout", get_.timeout, "Seconds without any data from the server before giving up")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  g->add_flag("-I,--head", get_.head, "Send HEAD instead of GET");
  g->add_flag("-i,--include", get_.include, "Print the response's header fields after the status line");
  g->add_flag("--quiet", get_.quiet, "Print nothing but errors (no status line, no summary)");
  g->footer(
      "Example: ip netns exec synfin-demo synfin get --tun tun0 --addr 10.0.0.2/24 -o page.html "
      "http://10.0.0.1:8000/");

  // --- nc ---
  nc_cmd_ = app.add_subcommand(
      "nc",
      "Raw TCP on synfin, netcat-like: one connection (--listen PORT or --connect A.B.C.D:PORT); it sends --send "
      "(standard input by default), half-closes when that ends, writes what arrives to --recv (standard output by "
      "default), and exits once both directions are finished and its FIN is acknowledged. At exit it reports the "
      "bytes each way and the connections left open. Exit status as for get.");
  auto* n = nc_cmd_;
  add_net_options(n, nc_.net);
  auto* lo = n->add_option("-l,--listen", nc_.listen_port, "Accept one connection on this port")
                 ->check(CLI::Range(1, 65535));
  auto* co = n->add_option("-c,--connect", nc_.connect, "Connect to A.B.C.D:PORT");
  lo->excludes(co);
  co->excludes(lo);
  n->add_option("--send", nc_.send, "What to send: a file, or - for standard input")->capture_default_str();
  n->add_option("--recv", nc_.recv, "Where received bytes go: a file, or - for standard output")->capture_default_str();
  n->add_option("--max-send", nc_.max_send,
                "Send at most this many bytes of --send, e.g. 1G (with --send /dev/zero: a stream of zeros)");
  n->add_flag("--wait-eof", nc_.wait_eof,
              "Send nothing until the peer has half-closed (its FIN arrived), then send and close: the "
              "passive side of a half-close");
  n->add_option("--connect-timeout", nc_.connect_timeout, "Seconds to wait for the connection to open")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  n->add_option("--timeout", nc_.timeout, "Give up after this many seconds without progress (0: never)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  n->add_flag("--quiet", nc_.quiet, "No report at exit");
}

std::optional<int> NetworkCommands::run() {
  if (serve_cmd_->parsed()) return run_serve(serve_);
  if (get_cmd_->parsed()) return run_get(get_);
  if (nc_cmd_->parsed()) {
    if (nc_.listen_port == 0 && nc_.connect.empty()) {
      std::fprintf(stderr, "synfin nc: say --listen PORT or --connect A.B.C.D:PORT\n");
      return kExitSetup;
    }
    return run_nc(nc_);
  }
  return std::nullopt;
}

}  // namespace synfin::tools

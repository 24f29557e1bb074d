// The commands that talk to the Linux kernel over a TUN device: `synfin serve` (HTTP server),
// `synfin get` (HTTP client) and `synfin nc` (raw TCP, netcat-like, with exact half-close).
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "net_common.hpp"

namespace synfin::tools {

struct ServeOptions {
  NetOptions net;
  int port = 80;
  std::string root;
  double idle_timeout = 60;
  std::uint32_t max_requests = 100;
  std::uint32_t max_connections = 100;
  bool quiet = false;
};

struct GetOptions {
  NetOptions net;
  std::string url;
  std::string out;
  double connect_timeout = 10;
  double timeout = 30;
  bool head = false;
  bool include = false;
  bool quiet = false;
};

struct NcOptions {
  NetOptions net;
  int listen_port = 0;
  std::string connect;
  std::string send = "-";
  std::string recv = "-";
  std::string max_send;  // stop sending after this many bytes (empty: at the end of --send)
  bool wait_eof = false;
  double connect_timeout = 10;
  double timeout = 0;
  bool quiet = false;
};

int run_serve(const ServeOptions& o);
int run_get(const GetOptions& o);
int run_nc(const NcOptions& o);

class NetworkCommands {
 public:
  explicit NetworkCommands(CLI::App& app);
  // The exit status of the command that ran; nullopt when none of these was chosen.
  std::optional<int> run();

 private:
  ServeOptions serve_;
  GetOptions get_;
  NcOptions nc_;
  CLI::App* serve_cmd_ = nullptr;
  CLI::App* get_cmd_ = nullptr;
  CLI::App* nc_cmd_ = nullptr;
};

}  // namespace synfin::tools

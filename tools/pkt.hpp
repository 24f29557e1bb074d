// `synfin pkt`: runs packetdrill scripts against synfin in virtual time.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace synfin::tools {

struct PktOptions {
  std::vector<std::string> paths;
  std::string profile = "synfin";
  std::vector<std::string> defines;  // replace the profile's #ifdef names when given
  bool json = false;
  bool verbose = false;
  bool non_fatal_syscalls = false;
  bool ignore_options = false;
  unsigned jobs = 1;  // 0: one per CPU
};

// Registers the subcommand; run_pkt runs it once parsed.
CLI::App* add_pkt_command(CLI::App& app, PktOptions& opts);
// Returns the process exit status: 0 when no script failed, 1 when one did, 2 on bad usage.
int run_pkt(const PktOptions& opts);

}  // namespace synfin::tools

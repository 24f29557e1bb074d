// `synfin demo`: two stacks over the simulated link, walking through a connection's life.
#pragma once

#include <cstdint>
#include <string>

namespace synfin::tools {

struct DemoOptions {
  std::string scenario = "http";
  double loss = 0;
  std::uint64_t seed = 1;
  std::string pcap;
  std::string trace;
  std::string lang = "en";
  bool color = false;
  bool quiet = false;  // no timeline, only the verdict (for tests)
};

// Returns the process exit status: 0 when the scenario ended as it must.
int run_demo(const DemoOptions& opts);

inline constexpr const char* kDemoScenarios[] = {
    "http", "simultaneous-open", "simultaneous-close", "syn-timeout", "reset", "keepalive",
    "old-duplicate-syn"};

}  // namespace synfin::tools

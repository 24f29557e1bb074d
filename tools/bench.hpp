// `synfin bench [--json] [--quick] [throughput|connrate|memory|all]`: synfin and the Linux
// kernel doing the same work on this machine, side by side in one run (issue 6).
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace synfin::tools {

struct BenchOptions {
  std::string what = "all";        // throughput, connrate, memory or all
  bool json = false;               // one JSON object on stdout instead of the table
  bool quick = false;              // a few seconds: a smoke test of correctness
  bool no_kernel = false;          // synfin only
  std::string kernel_program;      // the kernel side; default: found next to `synfin`
  std::uint64_t bytes = 0;         // throughput transfer size; 0: 1 GiB (quick: 32 MiB)
  std::uint64_t lifetimes = 0;     // connrate count; 0: 200,000 (quick: 5,000)
  std::uint64_t idle = 0;          // memory: idle connections; 0: 100,000 and 1,000,000
  unsigned rounds = 0;             // throughput: interleaved rounds, median reported; 0: 3 (quick: 1)
  std::string child;               // internal: one memory measurement in a fresh process
};

// Registers the subcommand; run_bench runs it once parsed.
CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts);
// 0 when every transfer verified and every connection closed; 1 otherwise.
int run_bench(const BenchOptions& opts);

}  // namespace synfin::tools

// The `synfin` command line: demo (and, as they land, serve, get, pkt, bench).
#include <unistd.h>

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "demo.hpp"
#include "bench.hpp"
#include "pkt.hpp"
#include "net_commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"synfin: a userspace TCP/IP stack"};
  app.require_subcommand(1);

  synfin::tools::DemoOptions demo;
  std::string scenarios;
  for (const char* s : synfin::tools::kDemoScenarios) scenarios += std::string(scenarios.empty() ? "" : ", ") + s;
  auto* d = app.add_subcommand("demo", "Walk through the life of a TCP connection between two synfin stacks "
                                       "over a simulated link, in virtual time");
  d->add_option("--scenario", demo.scenario, "Which story to tell: " + scenarios)
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(synfin::tools::kDemoScenarios),
                                                     std::end(synfin::tools::kDemoScenarios))))
      ->capture_default_str();
  d->add_option("--loss", demo.loss, "Packet loss probability on the link, in each direction (0 to 0.9)")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  d->add_option("--seed", demo.seed, "Seed of the link's randomness (the same seed gives the same run)")
      ->capture_default_str();
  d->add_option("--pcap", demo.pcap, "Write the client's packets to this pcap file (Wireshark, tshark)");
  d->add_option("--trace", demo.trace, "Write every trace event of both stacks to this file as JSON lines");
  d->add_option("--lang", demo.lang, "Language of the explanations: en or zh")
      ->check(CLI::IsMember({"en", "zh"}))
      ->capture_default_str();
  d->add_flag("--quiet", demo.quiet, "Print only the verdict");

  synfin::tools::NetworkCommands net(app);  // serve, get, nc

  synfin::tools::PktOptions pkt;
  auto* p = synfin::tools::add_pkt_command(app, pkt);

  synfin::tools::BenchOptions bench;
  auto* b = synfin::tools::add_bench_command(app, bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 1, as the commands' help says
    // (CLI11's own codes, 105 and up, would collide with nothing useful to a script).
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 1;
  }
  if (p->parsed()) return synfin::tools::run_pkt(pkt);
  if (b->parsed()) return synfin::tools::run_bench(bench);
  if (d->parsed()) {
    demo.color = isatty(STDOUT_FILENO) != 0;
    return synfin::tools::run_demo(demo);
  }
  if (auto rc = net.run()) return *rc;
  return 2;
}

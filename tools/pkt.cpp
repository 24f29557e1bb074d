// `synfin pkt [--profile NAME] [--json] [--verbose] PATH...`: runs packetdrill scripts (files,
// or directories searched recursively for *.pkt) against a fresh synfin stack each, in
// virtual time, and prints PASS, FAIL or SKIP per script with the first mismatch, then
// "N passed, N failed, N skipped". With --json, one JSON object per script on stdout
// (path, result, reason, line) and the summary on stderr.
#include "pkt.hpp"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "pkt/interpreter.hpp"
#include "pkt/profile.hpp"

namespace synfin::tools {

namespace fs = std::filesystem;

CLI::App* add_pkt_command(CLI::App& app, PktOptions& opts) {
  auto* p = app.add_subcommand("pkt", "Run packetdrill scripts against synfin in virtual time");
  p->add_option("paths", opts.paths, "Script files, or directories searched recursively for *.pkt")
      ->required();
  p->add_option("--profile", opts.profile,
                "Configuration to run the scripts with: synfin (our defaults) or freebsd (FreeBSD's "
                "defaults and shell commands)")
      ->check(CLI::IsMember(synfin::pkt::profile_names()))
      ->capture_default_str();
  p->add_option("-D,--define", opts.defines,
                "A name #ifdef tests, as packetdrill's -D (repeatable); given, these replace the profile's "
                "(synfin: STANDARD and synfin; freebsd: FreeBSD)");
  p->add_flag("--json", opts.json, "Print one JSON object per script (path, result, reason, line)");
  p->add_flag("--verbose", opts.verbose, "Print every event and packet of each script");
  p->add_flag("--non-fatal-syscalls", opts.non_fatal_syscalls,
              "Diagnosis: report system call mismatches as warnings and run on (the verdict still fails)");
  p->add_flag("--ignore-options", opts.ignore_options,
              "Diagnosis: do not compare the TCP options synfin sends (the verdict is then not a "
              "conformance result)");
  p->add_option("--jobs", opts.jobs, "Scripts to run in parallel, each on its own stack (0: one per CPU)")->capture_default_str();
  return p;
}

namespace {

bool collect_scripts(const std::vector<std::string>& paths, std::vector<std::string>& out) {
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".pkt") found.push_back(it->path().string());
      }
      if (ec) {
        fmt::print(stderr, "synfin pkt: cannot read {}: {}\n", p, ec.message());
        return false;
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      out.push_back(p);
    } else {
      fmt::print(stderr, "synfin pkt: no such file or directory: {}\n", p);
      return false;
    }
  }
  return true;
}

}  // namespace

int run_pkt(const PktOptions& opts) {
  auto profile = synfin::pkt::profile_by_name(opts.profile);
  if (!profile) {
    fmt::print(stderr, "synfin pkt: unknown profile {}\n", opts.profile);
    return 2;
  }
  if (!opts.defines.empty()) profile->defines = opts.defines;
  std::vector<std::string> files;
  if (!collect_scripts(opts.paths, files)) return 2;

  synfin::pkt::RunOptions ro;
  ro.verbose = opts.verbose;
  ro.non_fatal_syscalls = opts.non_fatal_syscalls;
  ro.ignore_options = opts.ignore_options;

  // Scripts are independent (a fresh stack each); run them on a few threads, print in order.
  std::vector<synfin::pkt::RunResult> results(files.size());
  std::atomic<std::size_t> next{0};
  unsigned jobs = opts.jobs != 0 ? opts.jobs : std::max(1u, std::thread::hardware_concurrency());
  jobs = std::min<unsigned>(jobs, static_cast<unsigned>(std::max<std::size_t>(1, files.size())));
  auto worker = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) results[i] = synfin::pkt::run_file(files[i], *profile, ro);
  };
  std::vector<std::thread> threads;
  for (unsigned j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();

  std::size_t passed = 0, failed = 0, skipped = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& r = results[i];
    switch (r.verdict) {
      case synfin::pkt::Verdict::pass: ++passed; break;
      case synfin::pkt::Verdict::fail: ++failed; break;
      case synfin::pkt::Verdict::skip: ++skipped; break;
    }
    if (opts.json) {
      nlohmann::json j;
      j["path"] = files[i];
      j["result"] = std::string(synfin::pkt::to_string(r.verdict));
      j["reason"] = r.reason;
      j["line"] = r.line;
      if (!r.warnings.empty()) j["warnings"] = r.warnings;
      fmt::print("{}\n", j.dump());
    } else {
      switch (r.verdict) {
        case synfin::pkt::Verdict::pass: fmt::print("PASS {}\n", files[i]); break;
        case synfin::pkt::Verdict::fail: fmt::print("FAIL {}:{}: {}\n", files[i], r.line, r.reason); break;
        case synfin::pkt::Verdict::skip:
          fmt::print("SKIP {}{}: {}\n", files[i], r.line > 0 ? fmt::format(":{}", r.line) : "", r.reason);
          break;
      }
      for (const auto& w : r.warnings) fmt::print("  warning: {}\n", w);
    }
    if (opts.verbose) {
      for (const auto& l : r.log) fmt::print(stderr, "  {}\n", l);
    }
  }
  const std::string summary = fmt::format("{} passed, {} failed, {} skipped", passed, failed, skipped);
  if (opts.json) fmt::print(stderr, "{}\n", summary);
  else fmt::print("{}\n", summary);
  return failed == 0 ? 0 : 1;
}

}  // namespace synfin::tools

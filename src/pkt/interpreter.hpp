// The script interpreter: plays a script's remote host against a fresh synfin Stack, in
// virtual time. Inbound packets are injected at their times; outbound lines are matched, in
// order, against what synfin sends, within the script's tolerance; system calls run on the
// Stack's socket API; shell lines go through the profile.
//
// As in packetdrill: relative times count from when the previous event completed; sequence
// numbers of the remote side are used as written and ours are mapped onto synfin's real ISN
// (learned from its first SYN or SYN-ACK); TCP options are compared byte for byte except the
// TS value, whose script-to-live mapping is remembered so that inbound TS echo replies can
// be translated. A packet synfin sends that the script did not expect fails the script.
#pragma once

#include <string>
#include <vector>

#include "pkt/profile.hpp"
#include "pkt/script.hpp"

namespace synfin::pkt {

enum class Verdict : std::uint8_t { pass, fail, skip };

constexpr std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::pass: return "pass";
    case Verdict::fail: return "fail";
    case Verdict::skip: return "skip";
  }
  return "?";
}

struct RunOptions {
  // Log every event and packet to RunResult::log.
  bool verbose = false;
  // Report system call mismatches as warnings and go on (packetdrill's --non_fatal=syscall),
  // for diagnosis of what else a script would find.
  bool non_fatal_syscalls = false;
  // Diagnosis: do not compare the TCP options of outbound segments (and pass inbound TS echo
  // replies through unmapped), to see what a script finds beyond option differences.
  bool ignore_options = false;
};

struct RunResult {
  Verdict verdict = Verdict::pass;
  std::string reason;  // why it failed or was skipped
  int line = 0;        // the script line of the first mismatch
  std::vector<std::string> warnings;
  std::vector<std::string> log;
};

RunResult run_script(const Script& script, const Profile& profile, const RunOptions& options = {});

// Reads, parses and runs one file. A script that does not parse fails.
RunResult run_file(const std::string& path, const Profile& profile, const RunOptions& options = {});

}  // namespace synfin::pkt

// The packetdrill parser: script text to a Script (see script.hpp).
//
// `#ifdef NAME` / `#ifndef NAME` / `#else` / `#endif` lines select text by the names the
// profile defines (the FreeBSD suite marks FreeBSD-specific expectations with `FreeBSD` and
// the standard ones with `STANDARD`), as the suite's own runner does with cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pkt/script.hpp"
#include "synfin/result.hpp"

namespace synfin::pkt {

struct ParseError {
  int line = 0;
  std::string message;
  // The header options read before the error: a script for a feature the runner skips
  // (IPv6, UDP encapsulation, TCP-MD5) may use syntax the parser does not know.
  std::vector<std::pair<std::string, std::string>> options;
};

Result<Script, ParseError> parse_script(std::string_view text, const std::vector<std::string>& defines,
                                        std::string path = {});

// Applies #ifdef sections; lines left out become empty so line numbers stay right.
Result<std::string, ParseError> preprocess(std::string_view text, const std::vector<std::string>& defines);

}  // namespace synfin::pkt

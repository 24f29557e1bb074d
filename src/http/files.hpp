// Mapping a request target to a file under the server's root, safely: percent-decoding,
// dot segments, and a final check on the resolved path, so that neither "../", nor its
// encoded forms, nor a symbolic link leads outside the root. Also content types and the
// small HTML pages (directory listings) the server generates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "synfin/result.hpp"

namespace synfin::http {

struct TargetError {
  int status;  // 400 malformed, 403 escapes the root
  std::string why;
};

// The request target's path, percent-decoded, with dot segments resolved: "/a/b/" stays a
// directory path ("a/b/"); the result never starts with '/' and never has ".." in it.
// Query and fragment are dropped. An origin-form ("/x") or absolute-form ("http://h/x")
// target is accepted.
Result<std::string, TargetError> normalize_target(std::string_view target);

struct Resolved {
  enum class Kind : std::uint8_t { file, directory, redirect, not_found, forbidden };
  Kind kind = Kind::not_found;
  std::string path;      // the real path (file or directory)
  std::string location;  // redirect: where to (a directory asked for without its '/')
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
};

// Looks `rel` (from normalize_target) up under `root` (a real path, no trailing '/').
// A directory gives its index.html if there is one.
Resolved resolve(const std::string& root, const std::string& rel, std::string_view original_path);

std::string_view content_type_for(std::string_view path);
std::string html_escape(std::string_view s);
// An HTML listing of a directory (names escaped and percent-encoded in links).
std::string directory_listing(const std::string& dir, std::string_view url_path);
std::string percent_encode_path(std::string_view s);

}  // namespace synfin::http

// Files under the server's root. See files.hpp.
#include "http/files.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include <fmt/format.h>

namespace synfin::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool under_root(const std::string& root, std::string_view real) {
  if (real == root) return true;
  if (root == "/") return !real.empty() && real.front() == '/';
  return real.size() > root.size() && real.substr(0, root.size()) == root && real[root.size()] == '/';
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

Result<std::string, TargetError> normalize_target(std::string_view target) {
  std::string_view path = target;
  if (path.size() >= 7 && (path.substr(0, 7) == "http://" || path.substr(0, 7) == "HTTP://")) {
    path.remove_prefix(7);
    const std::size_t slash = path.find('/');
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  path = path.substr(0, path.find_first_of("?#"));
  if (path.empty() || path.front() != '/') return fail(TargetError{400, "the request target is not a path"});
  std::string decoded;
  decoded.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      decoded += path[i];
      continue;
    }
    if (i + 2 >= path.size() || hex_value(path[i + 1]) < 0 || hex_value(path[i + 2]) < 0) {
      return fail(TargetError{400, "bad percent-encoding in the path"});
    }
    const char c = static_cast<char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
    if (c == '\0') return fail(TargetError{400, "NUL in the path"});
    decoded += c;
    i += 2;
  }
  // Resolve dot segments; a ".." at the top would leave the root.
  std::vector<std::string_view> parts;
  std::string_view rest = decoded;
  const bool dir = decoded.back() == '/' || ends_with(decoded, "/.") || ends_with(decoded, "/..");
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.empty()) return fail(TargetError{403, "the path leads outside the served directory"});
      parts.pop_back();
      continue;
    }
    parts.push_back(seg);
  }
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  if (dir && !out.empty()) out += '/';
  return out;
}

Resolved resolve(const std::string& root, const std::string& rel, std::string_view original_path) {
  Resolved r;
  const std::string candidate = rel.empty() ? root : root + "/" + rel;
  char buf[PATH_MAX];
  if (::realpath(candidate.c_str(), buf) == nullptr) {
    r.kind = errno == EACCES ? Resolved::Kind::forbidden : Resolved::Kind::not_found;
    return r;
  }
  std::string real = buf;
  // A symbolic link may point anywhere: only what stays under the root is served.
  if (!under_root(root, real)) {
    r.kind = Resolved::Kind::forbidden;
    return r;
  }
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0) return r;
  if (S_ISDIR(st.st_mode)) {
    const std::string_view p = original_path.substr(0, original_path.find_first_of("?#"));
    if (p.empty() || p.back() != '/') {
      r.kind = Resolved::Kind::redirect;
      r.location = std::string(p) + "/";
      return r;
    }
    struct stat ist {};
    const std::string index = real + "/index.html";
    if (::stat(index.c_str(), &ist) == 0 && S_ISREG(ist.st_mode)) {
      char ibuf[PATH_MAX];
      if (::realpath(index.c_str(), ibuf) != nullptr && under_root(root, ibuf)) {
        r.kind = Resolved::Kind::file;
        r.path = ibuf;
        r.size = static_cast<std::uint64_t>(ist.st_size);
        r.mtime = ist.st_mtime;
        return r;
      }
    }
    r.kind = Resolved::Kind::directory;
    r.path = real;
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    r.kind = Resolved::Kind::forbidden;  // devices, pipes, sockets
    return r;
  }
  r.kind = Resolved::Kind::file;
  r.path = real;
  r.size = static_cast<std::uint64_t>(st.st_size);
  r.mtime = st.st_mtime;
  return r;
}

std::string_view content_type_for(std::string_view path) {
  const std::size_t dot = path.rfind('.');
  const std::size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext(path.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::pair<const char*, const char*> kTypes[] = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
      {"txt", "text/plain; charset=utf-8"}, {"md", "text/plain; charset=utf-8"},
      {"css", "text/css"},                  {"js", "text/javascript"},
      {"json", "application/json"},         {"xml", "application/xml"},
      {"png", "image/png"},                 {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},               {"gif", "image/gif"},
      {"svg", "image/svg+xml"},             {"ico", "image/x-icon"},
      {"webp", "image/webp"},               {"pdf", "application/pdf"},
      {"wasm", "application/wasm"},         {"pcap", "application/vnd.tcpdump.pcap"},
      {"gz", "application/gzip"},           {"tar", "application/x-tar"},
      {"zip", "application/zip"},
  };
  for (const auto& [e, t] : kTypes)
    if (ext == e) return t;
  return "application/octet-stream";
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percent_encode_path(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        std::string_view("-._~/").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string directory_listing(const std::string& dir, std::string_view url_path) {
  std::vector<std::pair<std::string, bool>> entries;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      const bool is_dir = ::stat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      entries.emplace_back(name, is_dir);
      if (entries.size() >= 10000) break;
    }
    ::closedir(d);
  }
  std::sort(entries.begin(), entries.end());
  const std::string title = html_escape(url_path);
  std::string html = fmt::format("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {0}</title></head>\n"
                                 "<body><h1>Index of {0}</h1>\n<ul>\n",
                                 title);
  if (url_path != "/") html += "<li><a href=\"../\">../</a></li>\n";
  for (const auto& [name, is_dir] : entries) {
    const std::string shown = name + (is_dir ? "/" : "");
    html += fmt::format("<li><a href=\"{}\">{}</a></li>\n", html_escape(percent_encode_path(shown)), html_escape(shown));
  }
  html += "</ul>\n<hr><p>synfin</p></body></html>\n";
  return html;
}

}  // namespace synfin::http

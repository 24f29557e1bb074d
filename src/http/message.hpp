// HTTP/1.1 messages as the parser hands them over (RFC 9110 semantics, RFC 9112 syntax):
// a request or a status line and the header fields, names compared without case.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace synfin::http {

struct Header {
  std::string name;
  std::string value;
};

bool iequals(std::string_view a, std::string_view b);

class Headers {
 public:
  void add(std::string name, std::string value) { list_.push_back({std::move(name), std::move(value)}); }
  // The first field with this name.
  const std::string* find(std::string_view name) const;
  std::size_t count(std::string_view name) const;
  // True when a comma-separated field (Connection, Transfer-Encoding) holds `token`.
  bool has_token(std::string_view name, std::string_view token) const;
  const std::vector<Header>& list() const { return list_; }
  void clear() { list_.clear(); }

 private:
  std::vector<Header> list_;
};

struct Request {
  std::string method;
  std::string target;
  int version_minor = 1;  // HTTP/1.x
  Headers headers;

  // Whether the client wants the connection kept open after the response (RFC 9112 9.3).
  bool wants_keep_alive() const;
};

struct Response {
  int version_minor = 1;
  int status = 0;
  std::string reason;
  Headers headers;
};

std::string_view reason_phrase(int status);

}  // namespace synfin::http

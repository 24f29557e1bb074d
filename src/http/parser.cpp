// The HTTP/1.1 parser. See parser.hpp. Syntax from RFC 9112 sections 2 to 7.
#include "http/parser.hpp"

#include <algorithm>
#include <charconv>

namespace synfin::http {

namespace {

bool is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// field-value characters: VCHAR, obs-text, SP, HTAB (RFC 9110 section 5.5).
bool is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// "HTTP/1.1" -> minor version; major must be 1 (else 505), anything else malformed (400).
int parse_version(std::string_view v, bool& unsupported) {
  unsupported = false;
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' ||
      v[7] > '9') {
    return -1;
  }
  if (v[5] != '1') {
    unsupported = true;
    return -1;
  }
  return v[7] - '0';
}

bool parse_decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

}  // namespace

Parser::Parser(Kind kind, Limits limits) : kind_(kind), limits_(limits) {}

void Parser::reset() {
  state_ = State::head;
  head_done_ = false;
  chunked_ = false;
  head_.clear();
  line_start_ = 0;
  lines_ = 0;
  leading_empty_ = 0;
  line_.clear();
  remaining_ = 0;
  body_bytes_ = 0;
  content_length_.reset();
  trailer_bytes_ = 0;
  error_status_ = 0;
  error_.clear();
  request_ = Request{};
  response_ = Response{};
}

bool Parser::fail(int status, std::string why) {
  state_ = State::error;
  error_status_ = status;
  error_ = std::move(why);
  return false;
}

void Parser::body_out(std::string_view piece, const BodySink& body) {
  if (piece.empty()) return;
  body_bytes_ += piece.size();
  if (kind_ == Kind::request && body_bytes_ > limits_.max_body) {
    fail(413, "request body larger than " + std::to_string(limits_.max_body) + " bytes");
    return;
  }
  if (body) body(piece);
}

std::size_t Parser::feed(std::string_view in, const BodySink& body) {
  std::size_t used = 0;
  while (used < in.size()) {
    const std::string_view rest = in.substr(used);
    switch (state_) {
      case State::done:
      case State::error:
        return used;
      case State::head:
        used += feed_head(rest);
        break;
      case State::body_length:
      case State::chunk_data: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
        used += take;
        remaining_ -= take;
        body_out(rest.substr(0, take), body);
        if (state_ == State::error) return used;
        if (remaining_ == 0) state_ = state_ == State::body_length ? State::done : State::chunk_data_end;
        break;
      }
      case State::body_until_close:
        used += rest.size();
        body_out(rest, body);
        break;
      case State::chunk_size:
      case State::chunk_data_end:
      case State::trailers: {
        const std::size_t nl = rest.find('\n');
        const std::size_t take = nl == std::string_view::npos ? rest.size() : nl + 1;
        line_.append(rest.substr(0, take));
        used += take;
        const std::size_t limit = state_ == State::trailers ? limits_.max_header_line : 1024;
        if (line_.size() > limit) {
          return state_ == State::trailers ? (fail(431, "trailer field too long"), used)
                                           : (fail(400, "chunk-size line too long"), used);
        }
        if (state_ == State::chunk_data_end && line_.find_first_not_of("\r\n") != std::string::npos) {
          return fail(400, "chunk data longer than its size"), used;
        }
        if (nl == std::string_view::npos) break;
        const std::string_view line = strip_cr(std::string_view(line_).substr(0, line_.size() - 1));
        if (state_ == State::chunk_data_end) {
          if (!line.empty()) return fail(400, "chunk data longer than its size"), used;
          state_ = State::chunk_size;
        } else if (state_ == State::chunk_size) {
          // chunk-size [ chunk-ext ] : hex digits, then ";ext" which we ignore (RFC 9112 7.1.1).
          const std::string_view hex = trim_ows(line.substr(0, line.find(';')));
          std::uint64_t size = 0;
          if (hex.empty() || hex.size() > 15) return fail(400, "bad chunk size"), used;
          auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
          if (ec != std::errc{} || p != hex.data() + hex.size()) return fail(400, "bad chunk size"), used;
          if (kind_ == Kind::request && body_bytes_ + size > limits_.max_body) {
            return fail(413, "request body larger than " + std::to_string(limits_.max_body) + " bytes"), used;
          }
          if (size == 0) {
            state_ = State::trailers;
          } else {
            remaining_ = size;
            state_ = State::chunk_data;
          }
        } else {  // trailers: ignored, bounded; an empty line ends the message
          trailer_bytes_ += line_.size();
          if (trailer_bytes_ > limits_.max_head) return fail(431, "trailer section too large"), used;
          if (line.empty()) state_ = State::done;
        }
        line_.clear();
        break;
      }
    }
  }
  return used;
}

std::size_t Parser::feed_head(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t nl = in.find('\n', i);
    const std::size_t end = nl == std::string_view::npos ? in.size() : nl + 1;
    head_.append(in.substr(i, end - i));
    i = end;
    const std::size_t line_len = head_.size() - line_start_ - (nl == std::string_view::npos ? 0 : 1);
    if (lines_ == 0 && line_len > limits_.max_start_line) {
      if (kind_ == Kind::request) return fail(414, "request line longer than " + std::to_string(limits_.max_start_line) + " bytes"), i;
      return fail(400, "status line too long"), i;
    }
    if (lines_ > 0 && line_len > limits_.max_header_line) {
      return fail(431, "header field longer than " + std::to_string(limits_.max_header_line) + " bytes"), i;
    }
    if (head_.size() > limits_.max_head) {
      return fail(431, "header section larger than " + std::to_string(limits_.max_head) + " bytes"), i;
    }
    // A response starts with "HTTP/": a server speaking something else (an SSH banner, a bare
    // HTML page) is refused at its first bytes, not once its connection closes.
    if (kind_ == Kind::response && lines_ == 0 && !head_.empty() && head_[0] != '\r' && head_[0] != '\n') {
      constexpr std::string_view kVersion = "HTTP/";
      const std::size_t n = std::min(head_.size(), kVersion.size());
      if (std::string_view(head_).substr(0, n) != kVersion.substr(0, n)) {
        std::string start;
        for (char c : std::string_view(head_).substr(0, 24)) {
          if (c == '\r' || c == '\n') break;
          start += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        return fail(400, "not an HTTP response (it begins \"" + start + "\")"), i;
      }
    }
    if (nl == std::string_view::npos) return i;
    const std::string_view line =
        strip_cr(std::string_view(head_).substr(line_start_, head_.size() - 1 - line_start_));
    if (line.empty()) {
      if (lines_ == 0) {
        // Empty lines before a request line are ignored (RFC 9112 section 2.2), a few of them.
        if (++leading_empty_ > 8) return fail(400, "empty lines instead of a request"), i;
        head_.clear();
        line_start_ = 0;
        continue;
      }
      head_done_ = true;
      parse_head();
      return i;
    }
    ++lines_;
    if (lines_ > limits_.max_headers + 1) {
      return fail(431, "more than " + std::to_string(limits_.max_headers) + " header fields"), i;
    }
    line_start_ = head_.size();
  }
  return i;
}

bool Parser::parse_head() {
  std::string_view all(head_);
  bool first = true;
  while (!all.empty()) {
    const std::size_t nl = all.find('\n');
    const std::string_view line = strip_cr(all.substr(0, nl));
    all.remove_prefix(nl == std::string_view::npos ? all.size() : nl + 1);
    if (first) {
      first = false;
      if (!(kind_ == Kind::request ? parse_request_line(line) : parse_status_line(line))) return false;
      continue;
    }
    if (line.empty()) break;
    if (!parse_field(line)) return false;
  }
  return decide_body();
}

bool Parser::parse_request_line(std::string_view line) {
  // method SP request-target SP HTTP-version (RFC 9112 section 3)
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method");
  if (target.empty() || !std::all_of(target.begin(), target.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
      })) {
    return fail(400, "malformed request target");
  }
  bool unsupported = false;
  const int minor = parse_version(version, unsupported);
  if (unsupported) return fail(505, "only HTTP/1.x is supported");
  if (minor < 0) return fail(400, "malformed HTTP version");
  request_.method = method;
  request_.target = target;
  request_.version_minor = minor;
  return true;
}

bool Parser::parse_status_line(std::string_view line) {
  // HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 section 4)
  bool unsupported = false;
  const int minor = parse_version(line.substr(0, 8), unsupported);
  if (minor < 0) return fail(400, "malformed status line");
  if (line.size() < 12 || line[8] != ' ') return fail(400, "malformed status line");
  const std::string_view code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) || code[0] == '0') {
    return fail(400, "malformed status code");
  }
  if (line.size() > 12 && line[12] != ' ') return fail(400, "malformed status line");
  const std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  if (!std::all_of(reason.begin(), reason.end(), [](char c) { return is_field_char(static_cast<unsigned char>(c)); })) {
    return fail(400, "malformed reason phrase");
  }
  response_.version_minor = minor;
  response_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  response_.reason = reason;
  return true;
}

bool Parser::parse_field(std::string_view line) {
  // field-name ":" OWS field-value OWS; no whitespace before the colon, no line folding
  // (RFC 9112 sections 5.1 and 5.2).
  if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding in a header field");
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(400, "header field without a colon");
  const std::string_view name = line.substr(0, colon);
  if (!is_token(name)) return fail(400, "malformed header field name");
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (!std::all_of(value.begin(), value.end(), [](char c) { return is_field_char(static_cast<unsigned char>(c)); })) {
    return fail(400, "control character in a header field value");
  }
  Headers& h = kind_ == Kind::request ? request_.headers : response_.headers;
  h.add(std::string(name), std::string(value));
  return true;
}

bool Parser::decide_body() {
  const Headers& h = kind_ == Kind::request ? request_.headers : response_.headers;
  if (kind_ == Kind::request) {
    const std::size_t hosts = h.count("Host");
    if (hosts > 1 || (request_.version_minor >= 1 && hosts == 0)) {
      return fail(400, hosts > 1 ? "more than one Host field" : "HTTP/1.1 request without a Host field");
    }
  }
  // Content-Length: digits; repeated values must agree (RFC 9110 section 8.6).
  for (const Header& f : h.list()) {
    if (!iequals(f.name, "Content-Length")) continue;
    std::string_view v = f.value;
    while (true) {
      const std::size_t comma = v.find(',');
      std::uint64_t n = 0;
      if (!parse_decimal(trim_ows(v.substr(0, comma)), n)) return fail(400, "malformed Content-Length");
      if (content_length_ && *content_length_ != n) return fail(400, "conflicting Content-Length fields");
      content_length_ = n;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  const std::string* te = h.find("Transfer-Encoding");
  bool te_chunked = false;
  if (te != nullptr) {
    if (h.count("Transfer-Encoding") > 1 || !iequals(trim_ows(*te), "chunked")) {
      if (kind_ == Kind::request) return fail(501, "only the chunked transfer coding is supported");
    } else {
      te_chunked = true;
    }
    // A message with both is a smuggling attempt or an error (RFC 9112 section 6.3).
    if (kind_ == Kind::request && content_length_) return fail(400, "both Transfer-Encoding and Content-Length");
  }
  if (kind_ == Kind::response) {
    const int s = response_.status;
    if (answers_head_ || (s >= 100 && s < 200) || s == 204 || s == 304) {
      state_ = State::done;
    } else if (te != nullptr) {
      chunked_ = te_chunked;
      state_ = te_chunked ? State::chunk_size : State::body_until_close;
      content_length_.reset();
    } else if (content_length_) {
      remaining_ = *content_length_;
      state_ = remaining_ == 0 ? State::done : State::body_length;
    } else {
      state_ = State::body_until_close;
    }
    return true;
  }
  if (te_chunked) {
    chunked_ = true;
    state_ = State::chunk_size;
  } else if (content_length_) {
    if (*content_length_ > limits_.max_body) {
      return fail(413, "request body of " + std::to_string(*content_length_) + " bytes; the limit is " +
                           std::to_string(limits_.max_body));
    }
    remaining_ = *content_length_;
    state_ = remaining_ == 0 ? State::done : State::body_length;
  } else {
    state_ = State::done;
  }
  return true;
}

bool Parser::finish_at_eof() {
  if (state_ == State::body_until_close) state_ = State::done;
  return state_ == State::done;
}

}  // namespace synfin::http

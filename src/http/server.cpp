// The HTTP/1.1 server. See server.hpp.
#include "http/server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "http/files.hpp"

namespace synfin::http {

namespace {

constexpr std::size_t kMaxBufferedInput = 64 * 1024;  // unparsed request bytes held per connection
constexpr std::size_t kFileChunk = 64 * 1024;

std::string format_time(const char* fmt_str, std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, fmt_str, &tm);
  return std::string(buf, n);
}

// Printable request line for the log: control and non-ASCII bytes escaped.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out;
}

}  // namespace

std::string http_date() { return format_time("%a, %d %b %Y %H:%M:%S GMT", std::time(nullptr)); }

struct Server::Conn {
  Handle h;
  std::string peer;  // "addr:port"
  Parser parser;
  std::string in;          // received, not yet parsed
  std::size_t in_off = 0;
  std::string out;         // response head (and small bodies) not yet queued
  std::size_t out_off = 0;
  int file = -1;           // a file body being sent
  std::uint64_t file_off = 0;
  std::uint64_t file_end = 0;
  std::vector<std::uint8_t> chunk;
  std::size_t chunk_off = 0;
  std::uint32_t requests = 0;
  Instant last_active{};
  Instant linger_until = kNever;
  bool responding = false;
  bool close_after = false;
  bool shut = false;       // our FIN is queued
  bool peer_eof = false;   // the client's FIN arrived
  bool gone = false;
  bool dirty = false;
  // the request being answered, for the access log
  std::string log_line;
  int log_status = 0;
  std::uint64_t log_bytes = 0;
  std::uint64_t log_body = 0;
  std::uint64_t log_head = 0;  // bytes of the response head (the log counts body bytes)
  std::string log_agent;
  Instant log_start{};

  explicit Conn(const Limits& l) : parser(Parser::Kind::request, l) {}
  ~Conn() {
    if (file >= 0) ::close(file);
  }
};

Server::Server(Stack& stack, ServerOptions opts) : stack_(&stack), opts_(std::move(opts)), io_buf_(16384) {}

Server::~Server() = default;

void Server::start(Instant) {
  auto l = stack_->listen(opts_.addr, opts_.port, opts_.backlog);
  if (!l) {
    error_ = fmt::format("cannot listen on {}:{}: {}", opts_.addr.is_unspecified() ? "*" : opts_.addr.to_string(),
                         opts_.port, to_string(l.error()));
    failed_ = true;
    return;
  }
  listener_ = *l;
  listening_ = true;
}

Server::Conn* Server::find(Handle h) {
  auto it = conns_.find(h.index);
  if (it == conns_.end() || it->second->h != h || it->second->gone) return nullptr;
  return it->second.get();
}

void Server::on_event(const SocketEvent& e, Instant now) {
  if (listening_ && e.socket == listener_) {
    if (e.kind == SocketEventKind::accept_ready) accept_more(now);
    return;
  }
  Conn* c = find(e.socket);
  if (c == nullptr) return;
  switch (e.kind) {
    case SocketEventKind::reset:
      ++stats_.resets;
      drop(*c, "connection reset by the client", false, now);
      return;
    case SocketEventKind::closed:
      if (e.error != Error::none) {
        if (e.error == Error::timed_out) ++stats_.timeouts;
        drop(*c, e.error == Error::timed_out ? "connection timed out" : "connection failed", false, now);
      } else if (!c->gone) {
        drop(*c, nullptr, false, now);
      }
      return;
    default:
      if (!c->dirty) {
        c->dirty = true;
        dirty_.push_back(c);
      }
  }
}

void Server::reap() {
  if (dead_.empty()) return;
  dirty_.erase(std::remove_if(dirty_.begin(), dirty_.end(), [](Conn* c) { return c->gone; }), dirty_.end());
  for (std::uint32_t idx : dead_) conns_.erase(idx);
  dead_.clear();
}

void Server::on_pass(Instant now) {
  for (int round = 0; round < 8; ++round) {
    if (accept_pending_ && listening_) accept_more(now);
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
      Conn* c = dirty_[i];
      c->dirty = false;
      if (!c->gone) service(*c, now);
    }
    dirty_.clear();
    if (now >= sweep_at_) sweep(now);
    reap();
    if (!(accept_pending_ && listening_ && conns_.size() < opts_.max_connections)) break;
  }
}

void Server::accept_more(Instant now) {
  reap();
  accept_pending_ = false;
  while (listening_) {
    if (conns_.size() >= opts_.max_connections) {
      accept_pending_ = true;  // the rest wait in the listen queue
      return;
    }
    auto a = stack_->accept(listener_);
    if (!a) return;
    auto c = std::make_unique<Conn>(opts_.limits);
    c->h = *a;
    if (auto info = stack_->info(*a)) c->peer = fmt::format("{}:{}", info->remote_addr.to_string(), info->remote_port);
    c->last_active = now;
    ++stats_.connections;
    // Responses are written whole; Nagle would only hold back their last segment until the
    // client's (delayed) ACK.
    SocketOptions so;
    so.no_delay = true;
    (void)stack_->set_options(*a, so, now);
    Conn* raw = c.get();
    conns_[a->index] = std::move(c);
    want_sweep(now + opts_.idle_timeout);
    if (stopping_) {
      begin_shutdown(*raw, now);
    }
    raw->dirty = true;
    dirty_.push_back(raw);
  }
}

bool Server::read_input(Conn& c, Instant now) {
  bool got = false;
  while (!c.peer_eof && !c.gone) {
    if (!c.shut && c.in.size() - c.in_off >= kMaxBufferedInput) break;
    auto r = stack_->recv(c.h, io_buf_, now);
    if (!r) {
      if (r.error() != Error::would_block) {
        drop(c, r.error() == Error::reset ? "connection reset by the client" : "receive failed", false, now);
      }
      break;
    }
    if (*r == 0) {
      c.peer_eof = true;
      break;
    }
    got = true;
    c.last_active = now;
    if (!c.shut) c.in.append(reinterpret_cast<const char*>(io_buf_.data()), *r);
  }
  return got;
}

void Server::service(Conn& c, Instant now) {
  read_input(c, now);
  for (int guard = 0; guard < 256 && !c.gone; ++guard) {
    if (c.responding) {
      if (!pump(c, now)) break;
      finish_response(c, now);
      continue;
    }
    if (c.shut) {
      if (!c.peer_eof && read_input(c, now)) continue;
      break;
    }
    if (c.in_off < c.in.size()) {
      const std::size_t used = c.parser.feed(std::string_view(c.in).substr(c.in_off));
      c.in_off += used;
      if (c.parser.failed()) {
        respond_error(c, c.parser.error_status(), c.parser.error(), true, now);
        continue;
      }
      if (c.parser.done()) {
        handle_request(c, now);
        continue;
      }
    }
    if (c.in_off == c.in.size()) {
      c.in.clear();
      c.in_off = 0;
    }
    if (read_input(c, now)) continue;
    if (c.peer_eof) {
      // The client will send nothing more: a request cut short is answered with 400.
      if (c.parser.head_bytes() > 0 || c.in_off < c.in.size()) {
        respond_error(c, 400, "the connection closed in the middle of a request", true, now);
        continue;
      }
      begin_shutdown(c, now);
      continue;
    }
    break;
  }
  if (c.in_off > 0 && c.in_off * 2 > c.in.size()) {
    c.in.erase(0, c.in_off);
    c.in_off = 0;
  }
  if (!c.gone && c.shut && c.peer_eof && !c.responding) drop(c, nullptr, false, now);
}

bool Server::pump(Conn& c, Instant now) {
  while (!c.gone) {
    std::span<const std::uint8_t> piece;
    bool from_file = false;
    if (c.out_off < c.out.size()) {
      piece = {reinterpret_cast<const std::uint8_t*>(c.out.data()) + c.out_off, c.out.size() - c.out_off};
    } else if (c.file >= 0 && c.file_off < c.file_end) {
      if (c.chunk_off == c.chunk.size()) {
        c.chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(kFileChunk, c.file_end - c.file_off)));
        const ssize_t n = ::pread(c.file, c.chunk.data(), c.chunk.size(), static_cast<off_t>(c.file_off));
        if (n <= 0) {
          drop(c, n < 0 ? "error reading the file" : "the file shrank while being sent", true, now);
          return false;
        }
        c.chunk.resize(static_cast<std::size_t>(n));
        c.chunk_off = 0;
      }
      piece = {c.chunk.data() + c.chunk_off, c.chunk.size() - c.chunk_off};
      from_file = true;
    } else {
      return true;
    }
    auto r = stack_->send(c.h, piece, now);
    if (!r) {
      if (r.error() != Error::would_block) {
        drop(c, r.error() == Error::reset ? "connection reset by the client" : "send failed", false, now);
      }
      return false;
    }
    if (*r == 0) return false;
    c.last_active = now;
    c.log_bytes += *r;
    stats_.bytes_sent += *r;
    if (from_file) {
      c.chunk_off += *r;
      c.file_off += *r;
    } else {
      c.out_off += *r;
    }
    if (*r < piece.size()) return false;  // the buffer is full: wait for `writable`
  }
  return false;
}

void Server::respond(Conn& c, int status, std::string_view content_type, std::string body,
                     const std::vector<std::pair<std::string, std::string>>& extra, Instant now) {
  const bool head = c.parser.done() && c.parser.request().method == "HEAD";
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nServer: synfin/0.1\r\nDate: {}\r\n", status,
                                reason_phrase(status), http_date());
  std::uint64_t length = body.size();
  if (c.file >= 0) length = c.file_end;
  if (!content_type.empty()) out += fmt::format("Content-Type: {}\r\n", content_type);
  out += fmt::format("Content-Length: {}\r\n", length);
  for (const auto& [k, v] : extra) out += fmt::format("{}: {}\r\n", k, v);
  if (c.close_after) {
    out += "Connection: close\r\n";
  } else {
    const std::uint32_t left = opts_.max_requests - c.requests - 1;
    out += fmt::format("Connection: keep-alive\r\nKeep-Alive: timeout={}, max={}\r\n",
                       std::chrono::duration_cast<std::chrono::seconds>(opts_.idle_timeout).count(), left);
  }
  out += "\r\n";
  c.log_head = out.size();
  c.log_bytes = 0;
  if (!head) out += body;
  if (head && c.file >= 0) {
    ::close(c.file);
    c.file = -1;
  }
  if (c.file >= 0) {
    // The head and the first bytes of the file leave together: one segment for a small file.
    const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(kFileChunk - out.size() % kFileChunk, c.file_end));
    const std::size_t at = out.size();
    out.resize(at + first);
    const ssize_t n = first == 0 ? 0 : ::pread(c.file, out.data() + at, first, 0);
    out.resize(at + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    c.file_off = static_cast<std::uint64_t>(std::max<ssize_t>(n, 0));
  }
  c.out = std::move(out);
  c.out_off = 0;
  c.log_status = status;
  c.log_body = head ? 0 : length;
  c.responding = true;
  c.last_active = now;
  ++stats_.status_classes[std::min(status / 100, 5)];
}

void Server::respond_error(Conn& c, int status, const std::string& why, bool close, Instant now) {
  if (!c.parser.head_done()) {
    c.log_line = "-";
    c.log_agent = "-";
    c.log_start = now;
  }
  if (close) c.close_after = true;
  std::vector<std::pair<std::string, std::string>> extra;
  if (status == 405) extra.emplace_back("Allow", "GET, HEAD");
  respond(c, status, "text/plain; charset=utf-8", fmt::format("{} {}: {}\n", status, reason_phrase(status), why),
          extra, now);
  if (close) c.parser = Parser(Parser::Kind::request, opts_.limits);  // nothing more is parsed
}

void Server::handle_request(Conn& c, Instant now) {
  const Request& req = c.parser.request();
  ++stats_.requests;
  c.log_start = now;
  c.log_line = fmt::format("{} {} HTTP/1.{}", req.method, req.target, req.version_minor);
  const std::string* ua = req.headers.find("User-Agent");
  c.log_agent = ua != nullptr ? *ua : "-";
  c.log_bytes = 0;
  c.close_after = !req.wants_keep_alive() || c.requests + 1 >= opts_.max_requests || stopping_;
  if (req.method != "GET" && req.method != "HEAD") {
    respond_error(c, 405, "only GET and HEAD are served", false, now);
    return;
  }
  auto rel = normalize_target(req.target);
  if (!rel) {
    respond_error(c, rel.error().status, rel.error().why, rel.error().status == 400, now);
    return;
  }
  if (opts_.root.empty()) {
    if (rel->empty() || *rel == "index.html") {
      respond(c, 200, "text/html; charset=utf-8", builtin_page(), {}, now);
    } else {
      respond_error(c, 404, "no such page (this server has only the built-in page; --root serves files)", false, now);
    }
    return;
  }
  const Resolved r = resolve(opts_.root, *rel, req.target);
  switch (r.kind) {
    case Resolved::Kind::not_found:
      respond_error(c, 404, "no such file", false, now);
      return;
    case Resolved::Kind::forbidden:
      respond_error(c, 403, "not served", false, now);
      return;
    case Resolved::Kind::redirect:
      respond(c, 301, "text/plain; charset=utf-8", "moved to " + r.location + "\n", {{"Location", r.location}}, now);
      return;
    case Resolved::Kind::directory: {
      const std::string_view url = std::string_view(req.target).substr(0, req.target.find_first_of("?#"));
      respond(c, 200, "text/html; charset=utf-8", directory_listing(r.path, url), {}, now);
      return;
    }
    case Resolved::Kind::file: {
      const int fd = ::open(r.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        respond_error(c, errno == EACCES ? 403 : 404, "cannot open the file", false, now);
        return;
      }
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        respond_error(c, 403, "not a regular file", false, now);
        return;
      }
      c.file = fd;
      c.file_off = 0;
      c.file_end = static_cast<std::uint64_t>(st.st_size);
      c.chunk.clear();
      c.chunk_off = 0;
      respond(c, 200, content_type_for(r.path), {},
              {{"Last-Modified", format_time("%a, %d %b %Y %H:%M:%S GMT", st.st_mtime)}}, now);
      return;
    }
  }
}

void Server::log_request(Conn& c, const char* note, Instant now) {
  if (opts_.quiet || opts_.log == nullptr) return;
  const double secs = to_seconds(now - c.log_start);
  const std::string when = format_time("%d/%b/%Y:%H:%M:%S +0000", std::time(nullptr));
  fmt::print(opts_.log, "{} - - [{}] \"{}\" {} {} \"{}\" {:.3f}{}{}\n", c.peer, when, printable(c.log_line),
             c.log_status, c.log_bytes > c.log_head ? c.log_bytes - c.log_head : 0, printable(c.log_agent), secs, note != nullptr ? " " : "",
             note != nullptr ? note : "");
  std::fflush(opts_.log);
}

void Server::finish_response(Conn& c, Instant now) {
  log_request(c, nullptr, now);
  c.responding = false;
  ++c.requests;
  if (c.file >= 0) {
    ::close(c.file);
    c.file = -1;
  }
  c.out.clear();
  c.out_off = 0;
  c.last_active = now;
  if (c.close_after) {
    begin_shutdown(c, now);
  } else {
    c.parser.reset();
  }
}

void Server::begin_shutdown(Conn& c, Instant now) {
  if (c.shut || c.gone) return;
  c.shut = true;
  c.in.clear();
  c.in_off = 0;
  (void)stack_->shutdown(c.h, now);  // FIN after the queued response
  c.linger_until = now + opts_.linger;
  want_sweep(c.linger_until);
}

void Server::drop(Conn& c, const char* why, bool abort, Instant now) {
  if (c.gone) return;
  if (c.responding) log_request(c, why != nullptr ? why : "connection closed", now);
  else if (why != nullptr && !opts_.quiet && opts_.log != nullptr && c.requests == 0 && !c.shut) {
    fmt::print(opts_.log, "{} - - {} before any request\n", c.peer, why);
    std::fflush(opts_.log);
  }
  c.gone = true;
  c.responding = false;
  if (abort) (void)stack_->abort(c.h, now);
  else (void)stack_->close(c.h, now);
  dead_.push_back(c.h.index);
}

void Server::sweep(Instant now) {
  Instant next = kNever;
  for (auto& [idx, cp] : conns_) {
    Conn& c = *cp;
    if (c.gone) continue;
    if (c.shut) {
      if (now >= c.linger_until) {
        ++stats_.timeouts;
        drop(c, nullptr, !c.peer_eof, now);  // the client never closed: reset it
        continue;
      }
      next = std::min(next, c.linger_until);
      continue;
    }
    const Instant idle_at = c.last_active + opts_.idle_timeout;
    if (now >= idle_at) {
      ++stats_.timeouts;
      if (c.responding) {
        drop(c, "timed out: the client stopped reading", true, now);
      } else if (c.parser.head_bytes() > 0 || c.in_off < c.in.size()) {
        respond_error(c, 408, "no complete request within the idle timeout", true, now);
        c.dirty = true;
        dirty_.push_back(&c);
        next = std::min(next, now);
      } else {
        begin_shutdown(c, now);
        next = std::min(next, c.linger_until);
      }
      continue;
    }
    next = std::min(next, idle_at);
  }
  sweep_at_ = next;
  if (!dirty_.empty()) {
    for (std::size_t i = 0; i < dirty_.size(); ++i) {
      Conn* c = dirty_[i];
      c->dirty = false;
      if (!c->gone) service(*c, now);
    }
    dirty_.clear();
  }
}

void Server::on_stop_request(Instant now) {
  stopping_ = true;
  if (listening_) {
    (void)stack_->close(listener_, now);
    listening_ = false;
  }
  for (auto& [idx, cp] : conns_) {
    Conn& c = *cp;
    if (c.gone) continue;
    if (c.responding) {
      c.close_after = true;  // finish this response, then close
    } else {
      begin_shutdown(c, now);
    }
  }
}

std::string Server::builtin_page() const {
  const Counters& k = stack_->counters();
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>synfin</title></head>\n<body>\n"
      "<h1>synfin</h1>\n<p>This page was served by synfin, a userspace TCP/IP stack: the TCP connection "
      "that carried it lives in a user process, not in the kernel.</p>\n"
      "<ul>\n<li>connections open: {}</li>\n<li>connections accepted: {}</li>\n<li>requests: {}</li>\n"
      "<li>segments in / out: {} / {}</li>\n<li>retransmissions: {}</li>\n</ul>\n"
      "<p>Serve files with <code>synfin serve --root DIR</code>.</p>\n</body></html>\n",
      stack_->connection_count(), k.connections_accepted, stats_.requests, k.segments_in, k.segments_out,
      k.retransmissions);
}

}  // namespace synfin::http

// The HTTP/1.1 client. See client.hpp.
#include "http/client.hpp"

#include <charconv>

#include <fmt/format.h>

namespace synfin::http {

namespace {
constexpr Duration kLinger = std::chrono::seconds(2);
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::pending: return "pending";
    case Outcome::ok: return "ok";
    case Outcome::refused: return "connection refused";
    case Outcome::reset: return "connection reset";
    case Outcome::closed_early: return "connection closed early";
    case Outcome::timed_out: return "timed out";
    case Outcome::bad_response: return "bad response";
    case Outcome::local_error: return "local error";
    case Outcome::interrupted: return "interrupted";
  }
  return "?";
}

Result<Url, std::string> parse_url(std::string_view text) {
  Url u;
  std::string_view s = text;
  if (s.starts_with("https://")) return fail(std::string("https is not supported (synfin get speaks plain HTTP)"));
  if (s.starts_with("http://")) s.remove_prefix(7);
  else if (s.find("://") != std::string_view::npos) return fail("unsupported URL scheme in '" + std::string(text) + "'");
  const std::size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  if (const std::size_t hash = u.path.find('#'); hash != std::string::npos) u.path.resize(hash);
  if (u.path.empty()) u.path = "/";
  for (char c : u.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return fail(std::string("the URL's path has spaces or control characters (percent-encode them)"));
    }
  }
  if (authority.find('@') != std::string_view::npos) return fail(std::string("user names in URLs are not supported"));
  u.host_text = authority;
  std::string_view host = authority;
  if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string_view port = authority.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) {
      return fail("bad port '" + std::string(port) + "' in the URL");
    }
    u.port = static_cast<std::uint16_t>(p);
  }
  auto a = Ipv4Addr::parse(host);
  if (!a) {
    return fail("the host '" + std::string(host) + "' is not an IPv4 address (synfin has no name resolver; "
                "write the address, e.g. http://10.0.0.1/)");
  }
  u.host = *a;
  return u;
}

Client::Client(Stack& stack, ClientOptions opts)
    : stack_(&stack), opts_(std::move(opts)), parser_(Parser::Kind::response), buf_(65536) {
  parser_.set_answers_head(opts_.head);
  request_ = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                         opts_.head ? "HEAD" : "GET", opts_.url.path, opts_.url.host_text, opts_.user_agent);
}

void Client::start(Instant now) {
  started_ = now;
  auto h = stack_->connect(opts_.url.host, opts_.url.port, now);
  if (!h) {
    finish(Outcome::local_error,
           fmt::format("cannot connect to {}:{}: {}", opts_.url.host.to_string(), opts_.url.port, to_string(h.error())),
           now);
    return;
  }
  h_ = *h;
  have_socket_ = true;
  deadline_ = now + opts_.connect_timeout;
}

Instant Client::next_deadline() const { return outcome_ == Outcome::pending || lingering_ ? deadline_ : kNever; }

void Client::finish(Outcome o, std::string message, Instant now) {
  if (outcome_ != Outcome::pending) return;
  outcome_ = o;
  message_ = std::move(message);
  finished_at_ = now;
  if (!have_socket_) return;
  if (o == Outcome::ok) {
    // Half-close and wait (briefly) for the server's FIN, so that neither side is left
    // waiting for an acknowledgment after we exit.
    if (stack_->shutdown(h_, now) == Error::none && !parser_.body_until_close()) {
      lingering_ = true;
      deadline_ = now + kLinger;
      return;
    }
    (void)stack_->close(h_, now);
  } else {
    (void)stack_->abort(h_, now);
  }
  have_socket_ = false;
}

void Client::on_event(const SocketEvent& e, Instant now) {
  if (!have_socket_ || e.socket != h_) return;
  switch (e.kind) {
    case SocketEventKind::connected:
      connected_ = true;
      connected_at_ = now;
      deadline_ = now + opts_.idle_timeout;
      break;
    case SocketEventKind::reset:
      if (lingering_) break;
      if (!connected_) {
        finish(Outcome::refused, fmt::format("connection refused by {}:{}", opts_.url.host.to_string(), opts_.url.port), now);
      } else {
        finish(Outcome::reset, fmt::format("connection reset by the server after {} body bytes", parser_.body_bytes()), now);
      }
      break;
    case SocketEventKind::closed:
      if (lingering_) {
        lingering_ = false;
        (void)stack_->close(h_, now);
        have_socket_ = false;
      } else if (e.error == Error::timed_out) {
        finish(Outcome::timed_out, connected_ ? "timed out: the server stopped acknowledging" : "timed out connecting", now);
      } else if (e.error == Error::refused) {
        finish(Outcome::refused, fmt::format("connection refused by {}:{}", opts_.url.host.to_string(), opts_.url.port), now);
      } else if (e.error != Error::none) {
        finish(Outcome::reset, fmt::format("connection failed: {}", to_string(e.error)), now);
      }
      break;
    default:
      break;
  }
}

void Client::pump(Instant now) {
  if (!have_socket_) return;
  if (lingering_) {
    // Discard anything after the response until the server's FIN (or the linger timeout).
    while (true) {
      auto r = stack_->recv(h_, buf_, now);
      if (!r || *r == 0) {
        if ((r && *r == 0) || (!r && r.error() != Error::would_block)) {
          lingering_ = false;
          (void)stack_->close(h_, now);
          have_socket_ = false;
        }
        return;
      }
    }
  }
  if (!connected_ || outcome_ != Outcome::pending) return;
  while (request_off_ < request_.size()) {
    auto r = stack_->send(h_, {reinterpret_cast<const std::uint8_t*>(request_.data()) + request_off_,
                               request_.size() - request_off_}, now);
    if (!r || *r == 0) break;
    request_off_ += *r;
  }
  while (outcome_ == Outcome::pending) {
    auto r = stack_->recv(h_, buf_, now);
    if (!r) {
      if (r.error() == Error::would_block) return;
      if (r.error() == Error::reset) {
        finish(Outcome::reset, fmt::format("connection reset by the server after {} body bytes", parser_.body_bytes()), now);
      } else if (r.error() == Error::timed_out) {
        finish(Outcome::timed_out, "timed out: the server stopped acknowledging", now);
      } else {
        finish(Outcome::reset, fmt::format("receive failed: {}", to_string(r.error())), now);
      }
      return;
    }
    deadline_ = now + opts_.idle_timeout;
    if (*r == 0) {
      if (parser_.finish_at_eof()) {
        finish(Outcome::ok, {}, now);
      } else if (!parser_.head_done()) {
        finish(parser_.head_bytes() == 0 ? Outcome::closed_early : Outcome::bad_response,
               parser_.head_bytes() == 0 ? "the server closed the connection without answering"
                                         : "the server closed the connection in the middle of the response head",
               now);
      } else {
        const auto want = parser_.content_length();
        finish(Outcome::closed_early,
               want ? fmt::format("the server closed the connection after {} of {} body bytes", parser_.body_bytes(), *want)
                    : fmt::format("the server closed the connection in the middle of a chunked body ({} bytes)",
                                  parser_.body_bytes()),
               now);
      }
      return;
    }
    const std::string_view data(reinterpret_cast<const char*>(buf_.data()), *r);
    const bool had_head = parser_.head_done();
    std::size_t used = 0;
    while (used < data.size() && !parser_.done() && !parser_.failed()) {
      const bool before = parser_.head_done();
      used += parser_.feed(data.substr(used), opts_.on_body);
      if (!before && parser_.head_done() && !parser_.failed() && opts_.on_head) opts_.on_head(parser_.response());
      if (parser_.head_done() && parser_.response().status >= 100 && parser_.response().status < 200 &&
          parser_.done()) {
        parser_.reset();  // 1xx: an interim response; the real one follows
        parser_.set_answers_head(opts_.head);
      }
    }
    (void)had_head;
    if (parser_.failed()) {
      finish(Outcome::bad_response, "bad response from the server: " + parser_.error(), now);
      return;
    }
    if (parser_.done()) {
      finish(Outcome::ok, {}, now);
      return;
    }
  }
}

void Client::on_pass(Instant now) {
  pump(now);
  if (now >= deadline_) {
    if (lingering_) {
      lingering_ = false;
      (void)stack_->close(h_, now);
      have_socket_ = false;
      return;
    }
    if (outcome_ == Outcome::pending) {
      if (!connected_) {
        finish(Outcome::timed_out,
               fmt::format("timed out: no answer from {}:{} within {:.1f} s (--connect-timeout)",
                           opts_.url.host.to_string(), opts_.url.port, to_seconds(opts_.connect_timeout)),
               now);
      } else {
        finish(Outcome::timed_out,
               fmt::format("timed out: no data from the server for {:.1f} s (--timeout), after {} body bytes",
                           to_seconds(opts_.idle_timeout), parser_.body_bytes()),
               now);
      }
    }
  }
}

void Client::on_stop_request(Instant now) {
  if (outcome_ == Outcome::pending) finish(Outcome::interrupted, "interrupted", now);
  if (lingering_) {
    lingering_ = false;
    (void)stack_->close(h_, now);
    have_socket_ = false;
  }
}

}  // namespace synfin::http

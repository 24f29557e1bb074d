// An incremental HTTP/1.1 message parser (RFC 9112) for both requests and responses: feed it
// bytes as they arrive, in pieces of any size; it says when the head is complete, hands the
// body bytes to a callback (Content-Length, chunked, or until the connection closes), and
// stops at the end of one message so that pipelined requests stay in the caller's buffer.
//
// Everything it is given is untrusted: every field is bounded (request line, header line,
// whole head, number of fields, body, chunk-size line) and anything malformed ends in an
// error with the status a server should answer: 400, 413, 414, 431, 501 or 505.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace synfin::http {

struct Limits {
  std::size_t max_start_line = 8 * 1024;    // request line (414 beyond) or status line
  std::size_t max_header_line = 8 * 1024;   // one field line (431 beyond)
  std::size_t max_head = 32 * 1024;         // the whole head (431 beyond)
  std::size_t max_headers = 100;            // field lines (431 beyond)
  std::uint64_t max_body = 1024 * 1024;     // request bodies (413 beyond); responses: no limit
};

class Parser {
 public:
  enum class Kind : std::uint8_t { request, response };
  using BodySink = std::function<void(std::string_view)>;

  Parser(Kind kind, Limits limits = {});

  // Consumes bytes and returns how many it took; it takes nothing after the end of a
  // message (or after an error). Body bytes go to `body`.
  std::size_t feed(std::string_view in, const BodySink& body = {});
  // The connection closed: a response whose body runs until the close is complete now.
  // Returns true if the message is complete.
  bool finish_at_eof();

  // For a response: it answers a HEAD request (no body, whatever the headers say).
  void set_answers_head(bool on) { answers_head_ = on; }

  bool head_done() const { return head_done_; }
  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::error; }
  // When failed(): the status a server answers, and why (for the log and the body).
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

  const Request& request() const { return request_; }
  const Response& response() const { return response_; }
  // The body's length if the head declared one (Content-Length).
  std::optional<std::uint64_t> content_length() const { return content_length_; }
  bool chunked() const { return chunked_; }
  bool body_until_close() const { return state_ == State::body_until_close; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  // Bytes of the head taken so far (for limits and logs).
  std::size_t head_bytes() const { return head_.size(); }

  // Ready for the next message on the same connection.
  void reset();

 private:
  enum class State : std::uint8_t {
    head,
    body_length,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailers,
    body_until_close,
    done,
    error,
  };

  std::size_t feed_head(std::string_view in);
  bool parse_head();
  bool parse_request_line(std::string_view line);
  bool parse_status_line(std::string_view line);
  bool parse_field(std::string_view line);
  bool decide_body();
  bool fail(int status, std::string why);
  void body_out(std::string_view piece, const BodySink& body);

  Kind kind_;
  Limits limits_;
  State state_ = State::head;
  bool head_done_ = false;
  bool answers_head_ = false;
  bool chunked_ = false;
  std::string head_;             // the head, bytes as received
  std::size_t line_start_ = 0;   // start of the line being received in head_
  std::size_t lines_ = 0;        // complete lines in head_ (leading empty lines skipped)
  std::size_t leading_empty_ = 0;
  std::string line_;             // a chunk-size or trailer line being received
  std::uint64_t remaining_ = 0;  // of a Content-Length body or a chunk
  std::uint64_t body_bytes_ = 0;
  std::optional<std::uint64_t> content_length_;
  std::size_t trailer_bytes_ = 0;
  int error_status_ = 0;
  std::string error_;
  Request request_;
  Response response_;
};

}  // namespace synfin::http

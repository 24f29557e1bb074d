// The packetdrill lexer: a cursor over a script's text that hands out tokens on demand.
// packetdrill's grammar is whitespace-insensitive except that `//` comments run to the end of
// the line, and a few constructs (TCP flags like "S." or "F.", FO cookies) are best read as
// raw words, so the parser asks for the kind of token it expects next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synfin::pkt {

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Skips spaces, newlines and comments (`// ...`, `/* ... */`).
  void skip_space();
  bool at_end();
  std::size_t position() const { return pos_; }
  int line() const { return line_; }
  std::string_view text() const { return text_; }

  // The next character after whitespace, or '\0' at the end.
  char peek();
  // True if the input (after whitespace) starts with `s`.
  bool looking_at(std::string_view s);
  // Consumes `s` if the input starts with it.
  bool accept(std::string_view s);
  // True if the next token is the identifier `word` (not a prefix of a longer identifier).
  bool looking_at_word(std::string_view word);
  bool accept_word(std::string_view word);

  // [A-Za-z_][A-Za-z0-9_]*
  std::optional<std::string> identifier();
  // Decimal or hexadecimal (0x...) unsigned integer.
  std::optional<std::uint64_t> unsigned_integer();
  // A decimal number of seconds ("0.10", "3", ".5") as microseconds.
  std::optional<std::int64_t> seconds();
  // Characters up to whitespace or one of `stops`.
  std::string word(std::string_view stops = "");
  // Text between matching delimiters, after the opening one was consumed: backquotes,
  // quotes, `%{ ... }%`.
  std::optional<std::string> until(std::string_view close);
  // Skips a balanced parenthesized note such as "(Operation now in progress)".
  bool skip_parenthesized();
  // The rest of the current line (no comment stripping), consuming the newline.
  std::string rest_of_line();

 private:
  void advance(std::size_t n);

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace synfin::pkt

// The packetdrill lexer; see lexer.hpp.
#include "pkt/lexer.hpp"

#include <cctype>

namespace synfin::pkt {

namespace {
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

void Lexer::advance(std::size_t n) {
  for (std::size_t i = 0; i < n && pos_ < text_.size(); ++i) {
    if (text_[pos_] == '\n') ++line_;
    ++pos_;
  }
}

void Lexer::skip_space() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      advance(1);
    } else if (text_.substr(pos_, 2) == "//") {
      while (pos_ < text_.size() && text_[pos_] != '\n') advance(1);
    } else if (text_.substr(pos_, 2) == "/*") {
      advance(2);
      while (pos_ < text_.size() && text_.substr(pos_, 2) != "*/") advance(1);
      advance(2);
    } else {
      break;
    }
  }
}

bool Lexer::at_end() {
  skip_space();
  return pos_ >= text_.size();
}

char Lexer::peek() {
  skip_space();
  return pos_ < text_.size() ? text_[pos_] : '\0';
}

bool Lexer::looking_at(std::string_view s) {
  skip_space();
  return text_.substr(pos_, s.size()) == s;
}

bool Lexer::accept(std::string_view s) {
  if (!looking_at(s)) return false;
  advance(s.size());
  return true;
}

bool Lexer::looking_at_word(std::string_view w) {
  if (!looking_at(w)) return false;
  const std::size_t end = pos_ + w.size();
  return end >= text_.size() || !is_ident_char(text_[end]);
}

bool Lexer::accept_word(std::string_view w) {
  if (!looking_at_word(w)) return false;
  advance(w.size());
  return true;
}

std::optional<std::string> Lexer::identifier() {
  skip_space();
  if (pos_ >= text_.size() || !is_ident_start(text_[pos_])) return std::nullopt;
  const std::size_t start = pos_;
  while (pos_ < text_.size() && is_ident_char(text_[pos_])) advance(1);
  return std::string(text_.substr(start, pos_ - start));
}

std::optional<std::uint64_t> Lexer::unsigned_integer() {
  skip_space();
  if (pos_ >= text_.size() || !is_digit(text_[pos_])) return std::nullopt;
  std::uint64_t v = 0;
  if (text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X") {
    advance(2);
    bool any = false;
    while (pos_ < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[pos_])) != 0) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text_[pos_])));
      v = v * 16 + static_cast<std::uint64_t>(is_digit(c) ? c - '0' : c - 'a' + 10);
      any = true;
      advance(1);
    }
    if (!any) return std::nullopt;
    return v;
  }
  while (pos_ < text_.size() && is_digit(text_[pos_])) {
    v = v * 10 + static_cast<std::uint64_t>(text_[pos_] - '0');
    advance(1);
  }
  return v;
}

std::optional<std::int64_t> Lexer::seconds() {
  skip_space();
  const bool starts_with_point =
      pos_ + 1 < text_.size() && text_[pos_] == '.' && is_digit(text_[pos_ + 1]);
  if (pos_ >= text_.size() || (!is_digit(text_[pos_]) && !starts_with_point)) return std::nullopt;
  std::int64_t whole = 0;
  while (pos_ < text_.size() && is_digit(text_[pos_])) {
    whole = whole * 10 + (text_[pos_] - '0');
    advance(1);
  }
  std::int64_t frac = 0;
  int digits = 0;
  // A '.' belongs to the number only when a digit follows: "1.00...6.00" is a blocking range.
  if (pos_ + 1 < text_.size() && text_[pos_] == '.' && is_digit(text_[pos_ + 1])) {
    advance(1);
    while (pos_ < text_.size() && is_digit(text_[pos_])) {
      if (digits < 6) {
        frac = frac * 10 + (text_[pos_] - '0');
        ++digits;
      }
      advance(1);
    }
  }
  while (digits < 6) {
    frac *= 10;
    ++digits;
  }
  return whole * 1'000'000 + frac;
}

std::string Lexer::word(std::string_view stops) {
  skip_space();
  const std::size_t start = pos_;
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || stops.find(c) != std::string_view::npos) break;
    advance(1);
  }
  return std::string(text_.substr(start, pos_ - start));
}

std::optional<std::string> Lexer::until(std::string_view close) {
  const std::size_t end = text_.find(close, pos_);
  if (end == std::string_view::npos) return std::nullopt;
  std::string s(text_.substr(pos_, end - pos_));
  advance(end - pos_ + close.size());
  return s;
}

bool Lexer::skip_parenthesized() {
  if (!accept("(")) return false;
  int depth = 1;
  while (pos_ < text_.size() && depth > 0) {
    if (text_[pos_] == '(') ++depth;
    if (text_[pos_] == ')') --depth;
    if (text_[pos_] == '\n') return false;  // a note never spans lines
    advance(1);
  }
  return depth == 0;
}

std::string Lexer::rest_of_line() {
  const std::size_t start = pos_;
  while (pos_ < text_.size() && text_[pos_] != '\n') advance(1);
  std::string s(text_.substr(start, pos_ - start));
  advance(1);
  return s;
}

}  // namespace synfin::pkt

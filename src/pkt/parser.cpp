// The packetdrill parser; see parser.hpp. A recursive-descent parser over the Lexer. Errors
// carry the script line so a script that cannot be read fails with a precise message.
#include "pkt/parser.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "pkt/lexer.hpp"

namespace synfin::pkt {

std::string Expr::to_string() const {
  switch (kind) {
    case Kind::ellipsis: return "...";
    case Kind::integer: return std::to_string(number);
    case Kind::identifier: return text;
    case Kind::string: return "\"" + text + "\"";
    case Kind::assignment: return text + "=" + (items.empty() ? "" : items[0].to_string());
    case Kind::list:
    case Kind::structure:
    case Kind::bit_or: {
      std::string s = kind == Kind::list ? "[" : kind == Kind::structure ? "{" : "";
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) s += kind == Kind::bit_or ? " | " : ", ";
        s += items[i].to_string();
      }
      s += kind == Kind::list ? "]" : kind == Kind::structure ? "}" : "";
      return s;
    }
  }
  return "?";
}

Result<std::string, ParseError> preprocess(std::string_view text, const std::vector<std::string>& defines) {
  std::string out;
  out.reserve(text.size());
  // Each entry: is this section active, and was any branch of it taken.
  std::vector<std::pair<bool, bool>> stack;
  int line = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    ++line;
    const bool active = std::all_of(stack.begin(), stack.end(), [](auto& s) { return s.first; });
    std::string_view t = l;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (!t.empty() && t.front() == '#') {
      auto directive_arg = [&](std::string_view d) {
        std::string_view a = t.substr(d.size());
        while (!a.empty() && (a.front() == ' ' || a.front() == '\t')) a.remove_prefix(1);
        while (!a.empty() && (a.back() == ' ' || a.back() == '\t' || a.back() == '\r')) a.remove_suffix(1);
        return std::string(a);
      };
      auto defined = [&](const std::string& n) {
        return std::find(defines.begin(), defines.end(), n) != defines.end();
      };
      if (t.starts_with("#ifdef")) {
        const bool on = defined(directive_arg("#ifdef"));
        stack.emplace_back(on, on);
      } else if (t.starts_with("#ifndef")) {
        const bool on = !defined(directive_arg("#ifndef"));
        stack.emplace_back(on, on);
      } else if (t.starts_with("#else")) {
        if (stack.empty()) return fail(ParseError{line, "#else without #ifdef", {}});
        stack.back().first = !stack.back().second;
        stack.back().second = true;
      } else if (t.starts_with("#endif")) {
        if (stack.empty()) return fail(ParseError{line, "#endif without #ifdef", {}});
        stack.pop_back();
      } else {
        return fail(ParseError{line, fmt::format("unsupported preprocessor line: {}", l), {}});
      }
    } else if (active) {
      out.append(l);
    }
    if (last) break;
    out.push_back('\n');
    pos = end + 1;
  }
  if (!stack.empty()) return fail(ParseError{line, "#ifdef without #endif", {}});
  return out;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) {}

  Result<Script, ParseError> run(std::string path) {
    Script s;
    s.path = std::move(path);
    while (!lex_.at_end()) {
      if (lex_.looking_at("--")) {
        lex_.accept("--");
        std::string l = lex_.rest_of_line();
        if (auto c = l.find("//"); c != std::string::npos) l.erase(c);
        while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) l.pop_back();
        const auto eq = l.find('=');
        if (eq == std::string::npos) s.options.emplace_back(l, "");
        else s.options.emplace_back(l.substr(0, eq), l.substr(eq + 1));
        continue;
      }
      auto e = event();
      if (!ok_) {
        error_.options = s.options;
        return fail(error_);
      }
      s.events.push_back(std::move(e));
    }
    return s;
  }

 private:
  void error(std::string msg) {
    if (ok_) {
      ok_ = false;
      error_ = ParseError{lex_.line(), std::move(msg), {}};
    }
  }

  template <typename T>
  T expect(std::optional<T> v, const char* what) {
    if (!v) {
      error(fmt::format("expected {} near '{}'", what, lex_.word()));
      return T{};
    }
    return *v;
  }

  void expect_text(std::string_view s) {
    if (!lex_.accept(s)) error(fmt::format("expected '{}' near '{}'", s, lex_.word()));
  }

  std::uint32_t u32(const char* what) {
    const auto v = lex_.unsigned_integer();
    if (!v || *v > 0xffffffffull) {
      error(fmt::format("expected {} near '{}'", what, lex_.word()));
      return 0;
    }
    return static_cast<std::uint32_t>(*v);
  }

  TimeSpec time() {
    TimeSpec t;
    if (lex_.accept("*")) {
      t.kind = TimeKind::any;
    } else {
      t.kind = lex_.accept("+") ? TimeKind::relative : TimeKind::absolute;
      t.start_us = expect(lex_.seconds(), "an event time");
    }
    if (lex_.accept("~")) {
      lex_.accept("+");
      t.range_end_us = expect(lex_.seconds(), "the end of a time range");
    }
    if (lex_.accept("...")) {
      t.blocking_end_relative = lex_.accept("+");
      t.blocking_end_us = expect(lex_.seconds(), "the end time of a blocking call");
    }
    return t;
  }

  Event event() {
    Event e;
    lex_.skip_space();
    e.line = lex_.line();
    const std::size_t start = lex_.position();
    e.time = time();
    if (!ok_) return e;
    const char c = lex_.peek();
    if (c == '<' || c == '>') {
      lex_.accept(std::string_view(&c, 1));
      packet(e, c == '<');
    } else if (c == '`') {
      lex_.accept("`");
      auto s = lex_.until("`");
      if (!s) error("unterminated shell command");
      else e.body = ShellCommand{*s};
    } else if (lex_.looking_at("%{")) {
      lex_.accept("%{");
      auto s = lex_.until("}%");
      if (!s) error("unterminated %{ code block");
      else e.body = CodeBlock{*s};
    } else if (auto name = lex_.identifier()) {
      syscall(e, *name);
    } else {
      error(fmt::format("expected a packet, system call, command or code near '{}'", lex_.word()));
    }
    e.source = source_text(lex_.text().substr(start, lex_.position() - start));
    return e;
  }

  // The event as written, without the comments and blank lines the lexer read past.
  static std::string source_text(std::string_view src) {
    std::vector<std::string_view> lines;
    std::size_t pos = 0;
    while (pos <= src.size()) {
      std::size_t end = src.find('\n', pos);
      if (end == std::string_view::npos) end = src.size();
      lines.push_back(src.substr(pos, end - pos));
      pos = end + 1;
    }
    auto blank_or_comment = [](std::string_view l) {
      const auto f = l.find_first_not_of(" \t\r");
      return f == std::string_view::npos || l.substr(f).starts_with("//");
    };
    while (lines.size() > 1 && blank_or_comment(lines.back())) lines.pop_back();
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::string_view l = lines[i];
      if (i + 1 == lines.size()) {
        // A trailing comment on the last line ("... win 65535 // Fifth segment"); a shell
        // command keeps its text, since it cannot hold "//" outside the backquotes here.
        const auto c = l.find("//");
        const auto q = l.rfind('`');
        if (c != std::string_view::npos && (q == std::string_view::npos || c > q)) l = l.substr(0, c);
      }
      if (i > 0) out += '\n';
      out.append(l);
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\r')) out.pop_back();
    return out;
  }

  IpSpec ip_spec() {
    IpSpec ip;
    while (ok_) {
      if (lex_.looking_at("(")) {
        lex_.accept("(");
        const std::string what = expect(lex_.identifier(), "ttl, tos or class");
        const std::uint32_t v = u32("a number");
        if (what == "ttl") ip.ttl = static_cast<std::uint8_t>(v);
        else if (what == "tos" || what == "class") ip.tos = static_cast<std::uint8_t>(v);
        else if (what != "flowlabel") error(fmt::format("unknown IP detail '{}'", what));
        expect_text(")");
      } else if (lex_.looking_at("[")) {
        // "[ect0]" and friends.
        lex_.accept("[");
        const std::string what = expect(lex_.identifier(), "an ECN codepoint");
        if (what == "noecn") ip.ecn = 0;
        else if (what == "ect1") ip.ecn = 1;
        else if (what == "ect0") ip.ecn = 2;
        else if (what == "ce") ip.ecn = 3;
        else if (what == "ect01") ip.ecn_any_ect = true;
        else error(fmt::format("unknown ECN codepoint '{}'", what));
        expect_text("]");
      } else {
        break;
      }
    }
    return ip;
  }

  void packet(Event& e, bool inbound) {
    IpSpec ip = ip_spec();
    if (!ok_) return;
    if (lex_.accept_word("icmp")) {
      IcmpPacketSpec p;
      p.inbound = inbound;
      p.type = expect(lex_.identifier(), "an ICMP type");
      if (auto code = lex_.identifier()) {
        if (*code == "mtu") {
          p.mtu = u32("an MTU");
        } else {
          p.code = *code;
          if (lex_.accept_word("mtu")) p.mtu = u32("an MTU");
        }
      }
      expect_text("[");
      lex_.accept_word("tcp");
      p.seq = u32("a sequence number");
      expect_text(":");
      p.seq_end = u32("a sequence number");
      expect_text("(");
      p.length = u32("a length");
      expect_text(")");
      expect_text("]");
      e.body = std::move(p);
      return;
    }
    TcpPacketSpec p;
    p.inbound = inbound;
    p.ip = ip;
    p.flags = lex_.word();
    if (p.flags.empty() || p.flags.find_first_not_of("FSRP.EWCU-") != std::string::npos) {
      error(fmt::format("bad TCP flags '{}'", p.flags));
      return;
    }
    if (p.flags == "-") p.flags.clear();
    if (lex_.accept("...")) {
      p.any_seq = true;
    } else {
      p.seq = u32("a sequence number");
      expect_text(":");
      p.seq_end = u32("a sequence number");
    }
    expect_text("(");
    p.length = u32("a length");
    expect_text(")");
    while (ok_) {
      if (lex_.accept_word("ack")) {
        p.ack = u32("an acknowledgment number");
      } else if (lex_.accept_word("win")) {
        p.window = u32("a window");
      } else if (lex_.accept_word("urg")) {
        p.urgent = static_cast<std::uint16_t>(u32("an urgent pointer"));
      } else if (lex_.looking_at("<")) {
        lex_.accept("<");
        if (lex_.accept("...")) {
          p.options_wildcard = true;
          expect_text(">");
        } else {
          options(p.options);
        }
      } else {
        break;
      }
    }
    e.body = std::move(p);
  }

  void options(std::vector<TcpOptionSpec>& out) {
    if (lex_.accept(">")) return;
    while (ok_) {
      TcpOptionSpec o;
      const std::string name = expect(lex_.identifier(), "a TCP option");
      using K = TcpOptionSpec::Kind;
      if (name == "eol") {
        o.kind = K::eol;
      } else if (name == "nop") {
        o.kind = K::nop;
      } else if (name == "mss") {
        o.kind = K::mss;
        o.value = u32("an MSS");
      } else if (name == "wscale") {
        o.kind = K::wscale;
        o.value = u32("a window scale");
      } else if (name == "sackOK") {
        o.kind = K::sack_permitted;
      } else if (name == "sack") {
        o.kind = K::sack;
        while (ok_ && lex_.peek() >= '0' && lex_.peek() <= '9') {
          const std::uint32_t a = u32("a SACK block edge");
          expect_text(":");
          const std::uint32_t b = u32("a SACK block edge");
          o.sack_blocks.emplace_back(a, b);
        }
      } else if (name == "TS") {
        o.kind = K::timestamp;
        if (!lex_.accept_word("val")) error("expected 'val' in TS option");
        o.value = u32("a timestamp value");
        if (!lex_.accept_word("ecr")) error("expected 'ecr' in TS option");
        o.value2 = u32("a timestamp echo reply");
      } else if (name == "FO") {
        o.kind = K::fast_open;
        if (lex_.peek() != ',' && lex_.peek() != '>') {
          const std::string hex = lex_.word(",>");
          if (hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
            error(fmt::format("bad Fast Open cookie '{}'", hex));
            return;
          }
          for (std::size_t i = 0; i < hex.size(); i += 2)
            o.cookie.push_back(static_cast<std::uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
        }
      } else if (name == "md5") {
        o.kind = K::md5;
        (void)lex_.identifier();  // valid / invalid
      } else {
        error(fmt::format("unknown TCP option '{}'", name));
        return;
      }
      out.push_back(std::move(o));
      if (lex_.accept(">")) return;
      if (!lex_.accept(",")) {
        error(fmt::format("expected ',' or '>' in TCP options near '{}'", lex_.word()));
        return;
      }
    }
  }

  Expr expr() {
    Expr first = primary();
    if (!lex_.looking_at("|")) return first;
    Expr e;
    e.kind = Expr::Kind::bit_or;
    e.items.push_back(std::move(first));
    while (ok_ && lex_.accept("|")) e.items.push_back(primary());
    return e;
  }

  std::vector<Expr> expr_list(std::string_view close) {
    std::vector<Expr> v;
    if (lex_.accept(close)) return v;
    while (ok_) {
      v.push_back(expr());
      if (lex_.accept(close)) break;
      if (!lex_.accept(",")) {
        error(fmt::format("expected ',' or '{}' near '{}'", close, lex_.word()));
        break;
      }
    }
    return v;
  }

  Expr primary() {
    if (lex_.accept("...")) return Expr::ellipsis();
    if (lex_.accept("-")) return Expr::integer(-static_cast<std::int64_t>(expect(lex_.unsigned_integer(), "a number")));
    if (auto n = lex_.unsigned_integer()) return Expr::integer(static_cast<std::int64_t>(*n));
    if (lex_.accept("[")) {
      Expr e;
      e.kind = Expr::Kind::list;
      e.items = expr_list("]");
      return e;
    }
    if (lex_.accept("{")) {
      Expr e;
      e.kind = Expr::Kind::structure;
      e.items = expr_list("}");
      return e;
    }
    if (lex_.accept("\"")) {
      Expr e;
      e.kind = Expr::Kind::string;
      auto s = lex_.until("\"");
      if (!s) error("unterminated string");
      else e.text = *s;
      return e;
    }
    if (auto id = lex_.identifier()) {
      if (lex_.accept("=")) {
        Expr e;
        e.kind = Expr::Kind::assignment;
        e.text = *id;
        e.items.push_back(expr());
        return e;
      }
      return Expr::identifier(*id);
    }
    error(fmt::format("expected an expression near '{}'", lex_.word()));
    return Expr::ellipsis();
  }

  void syscall(Event& e, std::string name) {
    SyscallSpec s;
    s.name = std::move(name);
    expect_text("(");
    if (!ok_) return;
    s.args = expr_list(")");
    expect_text("=");
    if (!ok_) return;
    s.result = expr();
    // An errno name, then an optional note: "-1 EINPROGRESS (Operation now in progress)".
    if (lex_.peek() == 'E') {
      if (auto id = lex_.identifier()) s.errno_name = *id;
    }
    if (lex_.looking_at("(")) {
      if (!lex_.skip_parenthesized()) error("unterminated note after a system call");
    }
    e.body = std::move(s);
  }

  Lexer lex_;
  bool ok_ = true;
  ParseError error_;
};

}  // namespace

Result<Script, ParseError> parse_script(std::string_view text, const std::vector<std::string>& defines,
                                        std::string path) {
  auto pre = preprocess(text, defines);
  if (!pre) return fail(pre.error());
  Parser p(*pre);
  return p.run(std::move(path));
}

}  // namespace synfin::pkt

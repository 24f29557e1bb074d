// The HTTP/1.1 parser, the target normalizer and the URL parser: what they accept, what they
// refuse and with which status, and that no input (split anywhere, or random) crashes them
// or makes them take bytes past the end of a message.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "http/client.hpp"
#include "http/files.hpp"
#include "http/parser.hpp"

namespace synfin::http {
namespace {

struct Parsed {
  Parser parser;
  std::size_t used = 0;
  std::string body;
  explicit Parsed(Parser::Kind k, Limits l = {}) : parser(k, l) {}
};

// Feeds `in` in pieces of `step` bytes, as a connection would deliver it.
Parsed feed(Parser::Kind kind, const std::string& in, std::size_t step = 1 << 20, Limits limits = {}) {
  Parsed p(kind, limits);
  std::size_t off = 0;
  while (off < in.size() && !p.parser.done() && !p.parser.failed()) {
    const std::string_view piece = std::string_view(in).substr(off, step);
    const std::size_t n = p.parser.feed(piece, [&](std::string_view b) { p.body.append(b); });
    off += n;
    if (n < piece.size()) break;
  }
  p.used = off;
  return p;
}

Parsed request(const std::string& in, std::size_t step = 1 << 20, Limits limits = {}) {
  return feed(Parser::Kind::request, in, step, limits);
}

TEST(HttpRequest, SimpleGetInEveryPieceSize) {
  const std::string in = "GET /index.html?x=1 HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n";
  for (std::size_t step = 1; step <= in.size(); ++step) {
    auto p = request(in, step);
    ASSERT_TRUE(p.parser.done()) << "step " << step;
    EXPECT_EQ(p.used, in.size());
    EXPECT_EQ(p.parser.request().method, "GET");
    EXPECT_EQ(p.parser.request().target, "/index.html?x=1");
    EXPECT_EQ(p.parser.request().version_minor, 1);
    ASSERT_NE(p.parser.request().headers.find("user-agent"), nullptr);
    EXPECT_EQ(*p.parser.request().headers.find("USER-AGENT"), "t");
  }
}

TEST(HttpRequest, StopsAtTheEndOfOneMessage) {
  const std::string one = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  auto p = request(one + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(p.parser.done());
  EXPECT_EQ(p.used, one.size());
  EXPECT_EQ(p.parser.request().target, "/a");
}

TEST(HttpRequest, BodyByLengthAndChunked) {
  auto p = request("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloEXTRA");
  ASSERT_TRUE(p.parser.done());
  EXPECT_EQ(p.body, "hello");
  EXPECT_EQ(p.used, p.used);  // the rest stays for the next request
  auto c = request("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n"
                   "3\r\n, w\r\n0\r\nTrailer: x\r\n\r\n",
                   3);
  ASSERT_TRUE(c.parser.done()) << c.parser.error();
  EXPECT_EQ(c.body, "hello, w");
}

TEST(HttpRequest, KeepAliveRules) {
  auto p11 = request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_TRUE(p11.parser.request().wants_keep_alive());
  auto close = request("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n");
  EXPECT_FALSE(close.parser.request().wants_keep_alive());
  auto p10 = request("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(p10.parser.done());
  EXPECT_FALSE(p10.parser.request().wants_keep_alive());
  auto p10ka = request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(p10ka.parser.request().wants_keep_alive());
}

TEST(HttpRequest, LeadingEmptyLinesAreIgnoredAndBareLfAccepted) {
  auto p = request("\r\n\r\nGET / HTTP/1.1\nHost: h\n\n");
  ASSERT_TRUE(p.parser.done()) << p.parser.error();
  EXPECT_EQ(p.parser.request().target, "/");
}

struct Bad {
  const char* text;
  int status;
};

TEST(HttpRequest, MalformedRequestsGetTheRightStatus) {
  const Bad cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},                                    // no Host
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},              // two Hosts
      {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},                        // space before colon
      {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400},              // obs-fold
      {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400},            // control character
      {"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n", 413},
      {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n", 413},
  };
  for (const Bad& b : cases) {
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{1 << 20}}) {
      auto p = request(b.text, step);
      EXPECT_TRUE(p.parser.failed()) << b.text;
      EXPECT_EQ(p.parser.error_status(), b.status) << b.text << " (" << p.parser.error() << ")";
      EXPECT_FALSE(p.parser.error().empty());
    }
  }
}

TEST(HttpRequest, OversizedPartsAreRefusedEarly) {
  Limits l;
  const std::string long_target = "GET /" + std::string(l.max_start_line, 'a') + " HTTP/1.1\r\n";
  auto p = request(long_target, 100);
  EXPECT_EQ(p.parser.error_status(), 414);
  EXPECT_LE(p.used, l.max_start_line + 200);  // refused before the whole line was taken
  const std::string long_header = "GET / HTTP/1.1\r\nX: " + std::string(l.max_header_line, 'b');
  EXPECT_EQ(request(long_header, 100).parser.error_status(), 431);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (std::size_t i = 0; i < l.max_headers + 1; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(request(many + "\r\n").parser.error_status(), 431);
  std::string big = "GET / HTTP/1.1\r\nHost: h\r\n";
  while (big.size() < l.max_head + 10) big += "X-Filler: " + std::string(1000, 'c') + "\r\n";
  EXPECT_EQ(request(big).parser.error_status(), 431);
  std::string endless_blank(100, '\n');
  EXPECT_EQ(request(endless_blank).parser.error_status(), 400);
}

TEST(HttpRequest, ResetAllowsTheNextMessage) {
  Parser p(Parser::Kind::request);
  const std::string a = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(p.feed(a), a.size());
  ASSERT_TRUE(p.done());
  p.reset();
  const std::string b = "HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(p.feed(b), b.size());
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.request().method, "HEAD");
  EXPECT_EQ(p.request().target, "/b");
}

TEST(HttpResponse, BodiesByLengthChunkedAndClose) {
  auto len = feed(Parser::Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef");
  ASSERT_TRUE(len.parser.done());
  EXPECT_EQ(len.body, "abc");
  EXPECT_EQ(len.parser.response().status, 200);
  EXPECT_EQ(len.parser.response().reason, "OK");
  auto ch = feed(Parser::Kind::response, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", 2);
  ASSERT_TRUE(ch.parser.done());
  EXPECT_EQ(ch.body, "ab");
  auto eof = feed(Parser::Kind::response, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
  EXPECT_FALSE(eof.parser.done());
  EXPECT_TRUE(eof.parser.body_until_close());
  EXPECT_TRUE(eof.parser.finish_at_eof());
  EXPECT_EQ(eof.body, "until the end");
  auto nobody = feed(Parser::Kind::response, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n");
  EXPECT_TRUE(nobody.parser.done());
  Parser head(Parser::Kind::response);
  head.set_answers_head(true);
  const std::string h = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  EXPECT_EQ(head.feed(h), h.size());
  EXPECT_TRUE(head.done());
  auto reasonless = feed(Parser::Kind::response, "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(reasonless.parser.done());
  EXPECT_EQ(reasonless.parser.response().status, 404);
  auto cut = feed(Parser::Kind::response, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_FALSE(cut.parser.finish_at_eof());
}

TEST(HttpResponse, NotHttpIsRefused) {
  for (const char* bad : {"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 2OO OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",
                          "HTTP/3.0 200 OK\r\n\r\n", "<html>\n\n"}) {
    EXPECT_TRUE(feed(Parser::Kind::response, bad).parser.failed()) << bad;
  }
}

TEST(HttpResponse, NotHttpIsRefusedAtItsFirstBytesWithWhatItWas) {
  // No end of line yet: the first bytes already say it is not HTTP.
  auto r = feed(Parser::Kind::response, "SSH-2.0-Open");
  EXPECT_TRUE(r.parser.failed());
  EXPECT_NE(r.parser.error().find("not an HTTP response"), std::string::npos) << r.parser.error();
  EXPECT_NE(r.parser.error().find("SSH-2.0-Open"), std::string::npos) << r.parser.error();
  // A prefix of "HTTP/" is still waiting for more, not refused.
  for (const char* partial : {"H", "HTT", "HTTP/", "HTTP/1.1 20"}) {
    auto p = feed(Parser::Kind::response, partial);
    EXPECT_FALSE(p.parser.failed()) << partial << ": " << p.parser.error();
    EXPECT_FALSE(p.parser.head_done()) << partial;
  }
}

// Garbage never crashes the parser, never makes it take bytes past what it reports, and it
// always ends in a definite state once the input is over (for requests: a complete message,
// an error, or waiting for more).
TEST(HttpGarbage, RandomInputNeverCrashes) {
  std::mt19937_64 rng(42);
  const std::string alphabet = "GETHPOST /:\r\n\t 0123456789abcdefABCDEF;%-.,HTTP/1.1Content-LengthTransfer-Encodingchunked";
  for (int round = 0; round < 3000; ++round) {
    std::string in;
    const std::size_t len = rng() % 600;
    const bool ascii = round % 2 == 0;
    for (std::size_t i = 0; i < len; ++i) {
      in += ascii ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() & 0xff);
    }
    if (round % 5 == 0) in = "GET / HTTP/1.1\r\nHost: h\r\n" + in;
    if (round % 7 == 0) in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + in;
    for (auto kind : {Parser::Kind::request, Parser::Kind::response}) {
      const std::size_t step = 1 + rng() % 64;
      auto p = feed(kind, in, step, Limits{256, 256, 1024, 16, 4096});
      EXPECT_LE(p.used, in.size());
      if (p.parser.failed()) {
        EXPECT_GE(p.parser.error_status(), 400);
        EXPECT_LE(p.parser.error_status(), 505);
      }
      (void)p.parser.finish_at_eof();
    }
  }
}

TEST(HttpTarget, NormalizesAndRefusesEscapes) {
  EXPECT_EQ(*normalize_target("/"), "");
  EXPECT_EQ(*normalize_target("/a/b.txt?q=1#f"), "a/b.txt");
  EXPECT_EQ(*normalize_target("/a/./b/../c"), "a/c");
  EXPECT_EQ(*normalize_target("/a/b/"), "a/b/");
  EXPECT_EQ(*normalize_target("//a///b"), "a/b");
  EXPECT_EQ(*normalize_target("/sp%20ace"), "sp ace");
  EXPECT_EQ(*normalize_target("http://host:80/x/y"), "x/y");
  for (const char* escape : {"/..", "/../etc/passwd", "/a/../../b", "/%2e%2e/x", "/a/%2E%2E%2f%2e%2e/x", "/..%2fetc"}) {
    auto r = normalize_target(escape);
    ASSERT_FALSE(r.ok()) << escape;
    EXPECT_EQ(r.error().status, 403) << escape;
  }
  for (const char* bad : {"*", "x", "/%zz", "/%2", "/a%00b"}) {
    auto r = normalize_target(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().status, 400) << bad;
  }
}

TEST(HttpTarget, ContentTypesAndEscaping) {
  EXPECT_EQ(content_type_for("/x/INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("/x.dir/noext"), "application/octet-stream");
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(percent_encode_path("a b/ü"), "a%20b/%C3%BC");
}

TEST(HttpUrl, ParsesWhatGetAccepts) {
  auto u = parse_url("http://10.0.0.1:8000/a/b?c");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, Ipv4Addr::of(10, 0, 0, 1));
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->path, "/a/b?c");
  EXPECT_EQ(u->host_text, "10.0.0.1:8000");
  auto d = parse_url("10.0.0.2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 80);
  EXPECT_EQ(d->path, "/");
  for (const char* bad : {"https://10.0.0.1/", "ftp://10.0.0.1/", "http://example.com/", "http://10.0.0.1:0/",
                          "http://10.0.0.1:99999/", "http://10.0.0.1:x/", "http://u@10.0.0.1/", "http://10.0.0.1/a b"}) {
    EXPECT_FALSE(parse_url(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace synfin::http

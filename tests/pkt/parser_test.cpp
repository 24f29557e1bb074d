// The packetdrill parser: times, packets, options (as the bytes they stand for), system
// calls, shell lines, code blocks, header options, #ifdef sections and errors.
#include <gtest/gtest.h>

#include "pkt/packet.hpp"
#include "pkt/parser.hpp"

namespace synfin::pkt {
namespace {

Script parse_ok(std::string_view text, std::vector<std::string> defines = {}) {
  auto s = parse_script(text, defines);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? *s : Script{};
}

TEST(PktParser, Times) {
  const Script s = parse_ok(R"(
0.000 `true`
+0.25 `true`
* `true`
1.5~2.5 `true`
+0...+1.25 read(3, ..., 1) = 1
)");
  ASSERT_EQ(s.events.size(), 5u);
  EXPECT_EQ(s.events[0].time.kind, TimeKind::absolute);
  EXPECT_EQ(s.events[0].time.start_us, 0);
  EXPECT_EQ(s.events[1].time.kind, TimeKind::relative);
  EXPECT_EQ(s.events[1].time.start_us, 250000);
  EXPECT_EQ(s.events[2].time.kind, TimeKind::any);
  EXPECT_EQ(s.events[3].time.start_us, 1500000);
  EXPECT_EQ(s.events[3].time.range_end_us, 2500000);
  EXPECT_EQ(s.events[4].time.blocking_end_us, 1250000);
  EXPECT_TRUE(s.events[4].time.blocking_end_relative);
  EXPECT_EQ(s.events[4].line, 6);
}

TEST(PktParser, TcpPacketFields) {
  const Script s = parse_ok("+0.1 < S. 0:10(10) ack 1 win 32767 urg 3 <mss 1460,sackOK,eol,eol>\n"
                            "+0 > [ect0] F. 1:1(0) <...>\n"
                            "+0 > . ...(0) ack 5\n");
  ASSERT_EQ(s.events.size(), 3u);
  const auto& p = std::get<TcpPacketSpec>(s.events[0].body);
  EXPECT_TRUE(p.inbound);
  EXPECT_EQ(p.flags, "S.");
  EXPECT_EQ(p.seq, 0u);
  EXPECT_EQ(p.seq_end, 10u);
  EXPECT_EQ(p.length, 10u);
  EXPECT_EQ(p.ack, 1u);
  EXPECT_EQ(p.window, 32767u);
  EXPECT_EQ(p.urgent, 3);
  EXPECT_EQ(option_bytes(p.options), (std::vector<std::uint8_t>{2, 4, 0x05, 0xb4, 4, 2, 0, 0}));
  const auto& q = std::get<TcpPacketSpec>(s.events[1].body);
  EXPECT_FALSE(q.inbound);
  EXPECT_TRUE(q.options_wildcard);
  EXPECT_EQ(q.ip.ecn, 2);
  EXPECT_FALSE(q.window.has_value());
  EXPECT_TRUE(std::get<TcpPacketSpec>(s.events[2].body).any_seq);
}

TEST(PktParser, OptionBytesAreExact) {
  const Script s = parse_ok("0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>\n"
                            "0 > . 1:1(0) ack 1 <nop,nop,sack 1:2 3:4>\n"
                            "0 > S 0:0(0) <FO 0a0b,eol,eol>\n");
  auto b0 = option_bytes(std::get<TcpPacketSpec>(s.events[0].body).options);
  EXPECT_EQ(b0, (std::vector<std::uint8_t>{2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0}));
  EXPECT_EQ(options_to_script(*b0), "mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0");
  auto b1 = option_bytes(std::get<TcpPacketSpec>(s.events[1].body).options);
  EXPECT_EQ(b1, (std::vector<std::uint8_t>{1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4}));
  auto b2 = option_bytes(std::get<TcpPacketSpec>(s.events[2].body).options);
  EXPECT_EQ(b2, (std::vector<std::uint8_t>{34, 4, 0x0a, 0x0b, 0, 0}));
}

TEST(PktParser, SystemCalls) {
  const Script s = parse_ok(R"(
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)
)");
  ASSERT_EQ(s.events.size(), 5u);
  const auto& c = std::get<SyscallSpec>(s.events[0].body);
  EXPECT_EQ(c.name, "connect");
  EXPECT_EQ(c.result.number, -1);
  EXPECT_EQ(c.errno_name, "EINPROGRESS");
  EXPECT_EQ(c.args[1].kind, Expr::Kind::ellipsis);
  const auto& f = std::get<SyscallSpec>(s.events[1].body);
  EXPECT_EQ(f.args[2].kind, Expr::Kind::bit_or);
  EXPECT_EQ(f.args[2].to_string(), "O_RDWR | O_NONBLOCK");
  const auto& g = std::get<SyscallSpec>(s.events[2].body);
  EXPECT_EQ(g.args[3].to_string(), "[ECONNRESET]");
  const auto& l = std::get<SyscallSpec>(s.events[3].body);
  EXPECT_EQ(l.args[3].kind, Expr::Kind::structure);
  EXPECT_EQ(l.args[3].to_string(), "{l_onoff=1, l_linger=0}");
  EXPECT_EQ(std::get<SyscallSpec>(s.events[4].body).result.number, 2);
}

TEST(PktParser, PollCalls) {
  const Script s = parse_ok(
      "+0 poll([{fd=3, events=POLLIN|POLLRDHUP, revents=POLLIN}, {fd=4, events=POLLOUT, revents=0}], 2, 250) = 1\n"
      "+0...0.1 poll([{fd=3, events=POLLIN, revents=...}], 1, -1) = 1\n");
  ASSERT_EQ(s.events.size(), 2u);
  const auto& c = std::get<SyscallSpec>(s.events[0].body);
  EXPECT_EQ(c.name, "poll");
  ASSERT_EQ(c.args.size(), 3u);
  ASSERT_EQ(c.args[0].kind, Expr::Kind::list);
  ASSERT_EQ(c.args[0].items.size(), 2u);
  const Expr& first = c.args[0].items[0];
  ASSERT_EQ(first.kind, Expr::Kind::structure);
  ASSERT_EQ(first.items.size(), 3u);
  EXPECT_EQ(first.items[0].kind, Expr::Kind::assignment);
  EXPECT_EQ(first.items[0].text, "fd");
  EXPECT_EQ(first.items[0].items[0].number, 3);
  EXPECT_EQ(first.items[1].text, "events");
  EXPECT_EQ(first.items[1].items[0].kind, Expr::Kind::bit_or);
  EXPECT_EQ(first.items[1].items[0].to_string(), "POLLIN | POLLRDHUP");
  EXPECT_EQ(first.items[2].items[0].to_string(), "POLLIN");
  EXPECT_EQ(c.args[0].items[1].to_string(), "{fd=4, events=POLLOUT, revents=0}");
  EXPECT_EQ(c.args[1].number, 2);
  EXPECT_EQ(c.args[2].number, 250);
  EXPECT_EQ(c.result.number, 1);
  const auto& b = std::get<SyscallSpec>(s.events[1].body);
  EXPECT_EQ(b.args[2].number, -1);
  EXPECT_EQ(b.args[0].items[0].items[2].items[0].kind, Expr::Kind::ellipsis);
  EXPECT_EQ(s.events[1].time.blocking_end_us, 100000);
}

TEST(PktParser, HeaderShellCodeAndIcmp) {
  const Script s = parse_ok(R"(--ip_version=ipv4
--tolerance_usecs=25000   // a comment
/* a block
   comment */
 0.00 `sysctl -w net.inet.tcp.sack.enable=1`
+0.00 %{ assert tcpi_state == TCPI_LISTEN }%
+0.10 < icmp unreachable port_unreachable [4294967295:4294967295(0)]
)");
  ASSERT_EQ(s.options.size(), 2u);
  EXPECT_EQ(s.options[1], (std::pair<std::string, std::string>{"tolerance_usecs", "25000"}));
  ASSERT_EQ(s.events.size(), 3u);
  EXPECT_EQ(std::get<ShellCommand>(s.events[0].body).text, "sysctl -w net.inet.tcp.sack.enable=1");
  EXPECT_NE(std::get<CodeBlock>(s.events[1].body).text.find("TCPI_LISTEN"), std::string::npos);
  const auto& i = std::get<IcmpPacketSpec>(s.events[2].body);
  EXPECT_EQ(i.type, "unreachable");
  EXPECT_EQ(i.code, "port_unreachable");
  EXPECT_EQ(i.seq, 4294967295u);
  EXPECT_EQ(s.events[2].line, 7);
}

TEST(PktParser, IfdefSections) {
  const std::string text = "0 `a`\n#ifdef FreeBSD\n0 `b`\n#else\n0 `c`\n#endif\n0 `d`\n";
  const Script fb = parse_ok(text, {"FreeBSD"});
  ASSERT_EQ(fb.events.size(), 3u);
  EXPECT_EQ(std::get<ShellCommand>(fb.events[1].body).text, "b");
  EXPECT_EQ(fb.events[2].line, 7);
  const Script std_ = parse_ok(text, {"STANDARD"});
  EXPECT_EQ(std::get<ShellCommand>(std_.events[1].body).text, "c");
  EXPECT_FALSE(parse_script("#ifdef X\n0 `a`\n", {}).ok());
}

TEST(PktParser, ErrorsCarryTheLine) {
  auto s = parse_script("--ip_version=ipv4\n0 `ok`\n+0 < S 0:0 win 1\n", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().line, 3);
  EXPECT_EQ(s.error().options.size(), 1u);
  EXPECT_FALSE(parse_script("0 < Q 0:0(0) win 1\n", {}).ok());  // no such flag
  EXPECT_FALSE(parse_script("0 > . 1:1(0) <mss>\n", {}).ok());   // mss needs a value
}

}  // namespace
}  // namespace synfin::pkt

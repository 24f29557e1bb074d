// The script interpreter against a real Stack: a script that describes what synfin does
// passes, and every kind of deviation (a field, a missing or extra packet, timing, a system
// call's result, a shell check) fails at the right line. Unsupported features skip.
#include <gtest/gtest.h>

#include "pkt/interpreter.hpp"
#include "pkt/parser.hpp"
#include "pkt/profile.hpp"

namespace synfin::pkt {
namespace {

const std::string kOpen = R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>
+0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>
+0 > . 1:1(0) ack 1 win 65535
)";  // lines 1-6

RunResult run(const std::string& text, const std::string& profile = "synfin") {
  auto p = profile_by_name(profile);
  EXPECT_TRUE(p.has_value());
  auto s = parse_script(text, p->defines);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  if (!s.ok()) return RunResult{Verdict::fail, "parse", 0, {}, {}};
  return run_script(*s, *p);
}

TEST(PktInterpreter, HandshakePasses) {
  const auto r = run(kOpen + "+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
}

TEST(PktInterpreter, WrongFieldFails) {
  auto r = run(kOpen + "+0 write(3, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 win 1000\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 8);
  EXPECT_NE(r.reason.find("window"), std::string::npos) << r.reason;
  r = run(kOpen + "+0 write(3, ..., 10) = 10\n+0 > . 1:11(10) ack 1 win 65535\n");
  EXPECT_NE(r.reason.find("flags"), std::string::npos) << r.reason;
  r = run(kOpen + "+0 write(3, ..., 10) = 10\n+0 > P. 2:12(10) ack 1 win 65535\n");
  EXPECT_NE(r.reason.find("seq"), std::string::npos) << r.reason;
  r = run(kOpen + "+0 write(3, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 win 65535 <mss 1460>\n");
  EXPECT_NE(r.reason.find("options"), std::string::npos) << r.reason;
}

TEST(PktInterpreter, OptionsAreComparedByteForByte) {
  // The same MSS with EOL padding is a different option list on the wire.
  const auto r = run(R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,eol,eol,eol,eol>
)");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 4);
}

TEST(PktInterpreter, MissingPacketFails) {
  const auto r = run(kOpen + "+0 > . 1:1(0) ack 1 win 65535\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("sent nothing"), std::string::npos) << r.reason;
}

TEST(PktInterpreter, UnexpectedPacketFails) {
  // The RST that answers close() with unread data is not the FIN the script expects.
  auto r = run(kOpen + "+0 < P. 1:11(10) ack 1 win 65535\n+0 close(3) = 0\n+0 > F. 1:1(0) ack 11 win 65535\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 9);
  // A packet nobody expected, at the end of the script: a failure for our own profile ...
  r = run(kOpen + "+0 < P. 1:11(10) ack 1 win 65535\n+0 close(3) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("does not expect"), std::string::npos) << r.reason;
}

TEST(PktInterpreter, TrailingPacketIsAWarningUnderFreebsd) {
  const auto r = run(R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0.1 < . 10:10(0) ack 20 win 1000
)",
                     "freebsd");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("> R 20:20(0) win 0"), std::string::npos) << r.warnings[0];
}

TEST(PktInterpreter, TimingIsChecked) {
  const std::string syn = R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>
)";
  EXPECT_EQ(run(syn + "+1 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>\n").verdict, Verdict::pass);
  // Too early: the retransmission comes at 1 s, not within 4 ms of 0.5 s.
  auto r = run(syn + "+0.5 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  // Too late: at 2 s it has been sent already, at 1 s.
  r = run(syn + "+2 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("time"), std::string::npos) << r.reason;
  // A range takes it.
  EXPECT_EQ(run(syn + "+0.9~+1.1 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>\n").verdict, Verdict::pass);
}

TEST(PktInterpreter, SystemCallResultsAreChecked) {
  auto r = run(kOpen + "+0 write(3, ..., 10) = 9\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 7);
  r = run(kOpen + "+0 recv(3, ..., 10, 0) = -1 EAGAIN (Resource temporarily unavailable)\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  r = run(kOpen + "+0 recv(3, ..., 10, 0) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  r = run(kOpen + "+0 < R 1:1(0) win 0\n+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n"
                  "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  r = run(kOpen + "+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
}

TEST(PktInterpreter, StateAssertions) {
  EXPECT_EQ(run(kOpen + "+0 %{ assert tcpi_state == TCPI_SYN_SENT }%\n").verdict, Verdict::fail);
  EXPECT_EQ(run(kOpen + "+0 %{ assert tcpi_options == 0 }%\n").verdict, Verdict::skip);
}

TEST(PktInterpreter, InboundSequenceNumbersMapOntoTheRealIsn) {
  // The peer acknowledges 11 bytes in script numbers; synfin must see its own ISN + 11, or
  // it would answer the ACK of unsent data with an ACK of its own.
  const auto r = run(kOpen + "+0 write(3, ..., 10) = 10\n+0 > P. 1:11(10) ack 1 win 65535\n"
                             "+0.1 < . 1:1(0) ack 11 win 65535\n+0 write(3, ..., 5) = 5\n"
                             "+0 > P. 11:16(5) ack 1 win 65535\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
}

TEST(PktInterpreter, BlockingCallsReturnWhenDone) {
  const std::string text = R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0...0.2 connect(3, ..., ...) = 0
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>
+0.2 < S. 0:0(0) ack 1 win 65535 <mss 1460>
+0 > . 1:1(0) ack 1 win 65535
)";
  EXPECT_EQ(run(text).verdict, Verdict::pass);
  std::string late = text;
  late.replace(late.find("0.2 connect"), 3, "0.5");
  EXPECT_EQ(run(late).verdict, Verdict::fail);
}

TEST(PktInterpreter, Skips) {
  EXPECT_EQ(run("--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n").verdict, Verdict::skip);
  EXPECT_EQ(run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 poll(3, 1, 0) = 0\n").verdict, Verdict::skip);
  // Shell lines mean nothing to the synfin profile.
  EXPECT_EQ(run("0 `sysctl -w net.inet.tcp.sack.enable=1`\n").verdict, Verdict::skip);
  // FreeBSD's default is honoured, a value synfin has no knob for is not.
  EXPECT_EQ(run("0 `sysctl -w net.inet.tcp.sack.enable=1`\n", "freebsd").verdict, Verdict::pass);
  const auto r = run("0 `sysctl -w net.inet.tcp.blackhole=1`\n", "freebsd");
  EXPECT_EQ(r.verdict, Verdict::skip);
  EXPECT_NE(r.reason.find("blackhole"), std::string::npos);
  EXPECT_EQ(run("0 `ls /`\n", "freebsd").verdict, Verdict::skip);
}

TEST(PktInterpreter, FreebsdShellEmulation) {
  const std::string listen = R"(0 `sysctl -w net.inet.tcp.recvspace=32768`
+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [32768], [4]) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32767 <mss 1460>
+0 > S. 0:0(0) ack 1 win 32768 <mss 1460>
)";
  EXPECT_EQ(run(listen + "+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 1`\n", "freebsd").verdict,
            Verdict::pass);
  const auto r = run(listen + "+0 `sockstat -4 -P tcp -p 8080 -s | grep -c SYN_RCVD | grep 0`\n", "freebsd");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 8);
}

TEST(PktProfile, SysctlsAndShellCommands) {
  auto p = profile_by_name("freebsd");
  ASSERT_TRUE(p);
  StackConfig c = p->stack;
  EXPECT_FALSE(apply_sysctl(*p, c, "net.inet.tcp.keepidle", 15000).has_value());
  EXPECT_EQ(c.tcp.keepalive_idle, std::chrono::seconds(15));
  EXPECT_FALSE(apply_sysctl(*p, c, "net.inet.tcp.rfc1323", 0).has_value());
  EXPECT_FALSE(c.tcp.window_scaling);
  EXPECT_FALSE(c.tcp.timestamps);
  EXPECT_FALSE(apply_sysctl(*p, c, "net.inet.tcp.insecure_rst", 0).has_value());  // the default
  EXPECT_FALSE(apply_sysctl(*p, c, "net.inet.tcp.insecure_rst", 1).has_value());  // a knob
  EXPECT_FALSE(c.tcp.rfc5961_rst);
  EXPECT_FALSE(apply_sysctl(*p, c, "net.inet.tcp.blackhole", 0).has_value());     // the default
  EXPECT_TRUE(apply_sysctl(*p, c, "net.inet.tcp.blackhole", 1).has_value());      // no knob
  EXPECT_TRUE(apply_sysctl(*p, c, "net.inet.tcp.no_such_thing", 0).has_value());
  auto k = classify_shell(*p, "sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1");
  ASSERT_TRUE(std::holds_alternative<SockstatCommand>(k));
  EXPECT_EQ(std::get<SockstatCommand>(k).state, TcpState::time_wait);
  EXPECT_EQ(std::get<SockstatCommand>(k).expected_count, 1u);
  EXPECT_TRUE(std::holds_alternative<TcpdropCommand>(classify_shell(*p, "tcpdrop -s TIME_WAIT")));
  EXPECT_TRUE(std::holds_alternative<UnsupportedCommand>(classify_shell(*p, "sockstat -6 -P tcp -s | grep -c X | grep 1")));
  EXPECT_FALSE(profile_by_name("linux").has_value());
}

}  // namespace
}  // namespace synfin::pkt

namespace synfin::pkt {
namespace {

TEST(PktInterpreter, TimestampEchoRepliesMapOntoLiveValues) {
  const std::string open = R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 4) = 0
+0 < S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 100 ecr 0>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 1000 ecr 100>
)";
  // TS val 1000 stands for whatever synfin put there; the peer's echo of it is translated.
  EXPECT_EQ(run(open + "+0.1 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 200 ecr 1000>\n"
                       "+0 accept(3, ..., ...) = 4\n").verdict,
            Verdict::pass);
  // An echo of a value synfin never sent cannot be translated.
  const auto r = run(open + "+0.1 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 200 ecr 999>\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("TS ecr 999"), std::string::npos) << r.reason;
  // The echo in synfin's own segments is compared exactly.
  EXPECT_EQ(run(open.substr(0, open.rfind("ecr 100>")) + "ecr 101>\n").verdict, Verdict::fail);
}

}  // namespace
}  // namespace synfin::pkt

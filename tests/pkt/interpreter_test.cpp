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
  EXPECT_EQ(run(kOpen + "+0 %{ assert tcpi_state == TCPI_ESTABLISHED }%\n").verdict, Verdict::pass);
  EXPECT_EQ(run(kOpen + "+0 %{ assert tcpi_color == 3 }%\n").verdict, Verdict::skip);
  EXPECT_EQ(run(kOpen + "+0 %{ assert tcpi_state != TCPI_CLOSED }%\n").verdict, Verdict::skip);
}

TEST(PktInterpreter, TcpInfoFields) {
  // kOpen's peer sends only an MSS option: nothing else is negotiated.
  auto r = run(kOpen + "+0 %{ assert tcpi_snd_mss == 1460 }%\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  r = run(kOpen + "+0 %{ assert tcpi_snd_mss == 536 }%\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("tcpi_snd_mss is 1460"), std::string::npos) << r.reason;
  r = run(kOpen + "+0 getsockopt(3, IPPROTO_TCP, TCP_INFO, {tcpi_state=TCPI_ESTABLISHED, tcpi_snd_mss=1460}, "
                  "[...]) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  r = run(kOpen + "+0 getsockopt(3, IPPROTO_TCP, TCP_INFO, {tcpi_state=TCPI_LISTEN}, [...]) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 7);
  r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
          "+0 getsockopt(3, IPPROTO_TCP, TCP_INFO, {tcpi_state=TCPI_LISTEN}, [...]) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.reason;
  // tcpi_options: answered only when synfin reports the negotiated options, never guessed.
  const auto none = run(kOpen + "+0 %{ assert tcpi_options == 0 }%\n");
  const auto all = run(kOpen + "+0 %{ assert tcpi_options == (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK) }%\n");
  if constexpr (requires(SocketInfo i) { i.timestamps; i.sack; i.window_scaling; }) {
    EXPECT_EQ(none.verdict, Verdict::pass) << none.reason;
    EXPECT_EQ(all.verdict, Verdict::fail);
    EXPECT_NE(all.reason.find("tcpi_options is 0x0, expected 0x3"), std::string::npos) << all.reason;
    // A peer that offers everything: timestamps, SACK and window scaling (its shift 3, ours 7).
    const std::string full = R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>
+0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 3>
+0 > . 1:1(0) ack 1 <nop,nop,TS val 0 ecr 100>
)";
    auto r2 = run(full + "+0 %{ assert tcpi_options == (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE) }%\n"
                         "+0 %{ assert tcpi_options == 7 }%\n"
                         "+0 %{ assert tcpi_snd_wscale == 3 }%\n+0 %{ assert tcpi_rcv_wscale == 7 }%\n"
                         "+0 getsockopt(3, IPPROTO_TCP, TCP_INFO, {tcpi_options=TCPI_OPT_TIMESTAMPS|TCPI_OPT_SACK|"
                         "TCPI_OPT_WSCALE}, [...]) = 0\n");
    EXPECT_EQ(r2.verdict, Verdict::pass) << r2.line << ": " << r2.reason;
    // synfin has no ECN: TCPI_OPT_ECN is never set.
    r2 = run(full + "+0 %{ assert tcpi_options == (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE | "
                    "TCPI_OPT_ECN) }%\n");
    EXPECT_EQ(r2.verdict, Verdict::fail);
  } else {
    EXPECT_EQ(none.verdict, Verdict::skip);
    EXPECT_NE(none.reason.find("negotiated options"), std::string::npos) << none.reason;
    EXPECT_EQ(all.verdict, Verdict::skip);
  }
}

// poll(): readiness from synfin's socket state, revents compared exactly (after masking
// with the requested events; POLLERR and POLLHUP are always reported).
TEST(PktInterpreter, PollReportsReadiness) {
  auto r = run(R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 > S 0:0(0) win 65535 <mss 1460,nop,wscale 7,sackOK,TS val 0 ecr 0>
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=0}], 1, 0) = 0
+0.1 < S. 0:0(0) ack 1 win 65535 <mss 1460>
+0 > . 1:1(0) ack 1 win 65535
+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1
+0 poll([{fd=3, events=POLLOUT|POLLWRNORM, revents=POLLOUT|POLLWRNORM}], 1, 0) = 1
+0 < P. 1:11(10) ack 1 win 65535
+0 poll([{fd=3, events=POLLIN|POLLRDNORM, revents=POLLIN|POLLRDNORM}, {fd=7, events=POLLIN, revents=POLLNVAL}], 2, 0) = 2
+0 read(3, ..., 10) = 10
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0 < F. 11:11(0) ack 1 win 65535
+0 > . 1:1(0) ack 12
+0 poll([{fd=3, events=POLLIN|POLLOUT|POLLRDHUP, revents=POLLIN|POLLOUT|POLLRDHUP}], 1, 0) = 1
+0 < R. 12:12(0) ack 1 win 65535
+0 poll([{fd=3, events=POLLIN, revents=POLLIN|POLLERR|POLLHUP}], 1, 0) = 1
+0 read(3, ..., 10) = -1 ECONNRESET (Connection reset by peer)
+0 poll([{fd=3, events=0, revents=POLLHUP}], 1, 0) = 1
)");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.line << ": " << r.reason;
  // A listener is readable when a connection waits for accept().
  r = run(R"(0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 65535 <mss 1460>
+0 > S. 0:0(0) ack 1 win 65535 <mss 1460>
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0.1 < . 1:1(0) ack 1 win 65535
+0 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 0) = 1
+0 accept(3, ..., ...) = 4
+0 poll([{fd=3, events=POLLIN, revents=0}, {fd=4, events=POLLOUT, revents=POLLOUT}], 2, 0) = 1
)");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.line << ": " << r.reason;
}

TEST(PktInterpreter, PollMismatchesFail) {
  auto r = run(kOpen + "+0 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLIN}], 1, 0) = 1\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 7);
  EXPECT_NE(r.reason.find("revents for fd 3 were POLLOUT, expected POLLIN"), std::string::npos) << r.reason;
  r = run(kOpen + "+0 poll([{fd=3, events=POLLOUT, revents=POLLOUT}], 1, 0) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("poll returned 1, expected 0"), std::string::npos) << r.reason;
  r = run(kOpen + "+0 poll([{fd=3, events=POLLOUT, revents=POLLOUT}], 2, 0) = 1\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("nfds"), std::string::npos) << r.reason;
  EXPECT_EQ(run(kOpen + "+0 poll([{fd=3, events=POLLFOO, revents=0}], 1, 0) = 0\n").verdict, Verdict::skip);
}

TEST(PktInterpreter, PollWaitsInVirtualTime) {
  // Without `...`: the script waits for the call; its timeout moves time on by 300 ms.
  auto r = run(kOpen + "+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 300) = 0\n"
                       "+0 write(3, ..., 10) = 10\n0.4 > P. 1:11(10) ack 1 win 65535\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.line << ": " << r.reason;
  // Ready at once: no wait at all.
  r = run(kOpen + "+0 poll([{fd=3, events=POLLOUT, revents=POLLOUT}], 1, 300) = 1\n"
                  "+0 write(3, ..., 10) = 10\n0.1 > P. 1:11(10) ack 1 win 65535\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.line << ": " << r.reason;
  // `a...b`: later lines run while poll() waits; data arriving at 0.3 s ends it then.
  const std::string blocking = kOpen + "+0...0.3 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, 1000) = 1\n"
                                       "0.3 < P. 1:11(10) ack 1 win 65535\n";
  r = run(blocking + "+0 read(3, ..., 10) = 10\n0.34 > . 1:1(0) ack 11\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.line << ": " << r.reason;
  std::string early = blocking;
  early.replace(early.find("0.3 poll"), 3, "0.2");
  r = run(early + "+0 read(3, ..., 10) = 10\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("timing"), std::string::npos) << r.reason;
  // `a...b` that is ready at once returns at a, not at b.
  r = run(kOpen + "+0...0.3 poll([{fd=3, events=POLLOUT, revents=POLLOUT}], 1, 1000) = 1\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_NE(r.reason.find("timing"), std::string::npos) << r.reason;
  // `a...b` ending by its timeout.
  r = run(kOpen + "+0...0.35 poll([{fd=3, events=POLLIN, revents=0}], 1, 250) = 0\n");
  EXPECT_EQ(r.verdict, Verdict::pass) << r.line << ": " << r.reason;
  // No timeout and nothing that could make it ready: the script cannot go on.
  r = run(kOpen + "+0 poll([{fd=3, events=POLLIN, revents=POLLIN}], 1, -1) = 1\n");
  EXPECT_EQ(r.verdict, Verdict::fail);
  EXPECT_EQ(r.line, 7);
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

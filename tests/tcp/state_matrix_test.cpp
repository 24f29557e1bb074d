// The state matrix for the synchronized states and SYN-RECEIVED (RFC 9293 section 3.10.7.4,
// with the RFC 5961 defences): every state is reached by a real exchange, then one segment
// (RST, RST-ACK, SYN, SYN-ACK, ACK, data, FIN) is injected at one of five positions relative
// to the receive window, and exactly what comes back, and the state after, are asserted.
//
// Positions: the left edge (SEG.SEQ = RCV.NXT), inside the window (RCV.NXT + 100), the right
// edge (the segment's last octet is the last one the window admits; 10 bytes of data
// straddle it with 5 inside), beyond (SEG.SEQ = RCV.NXT + RCV.WND) and below (the segment
// lies wholly before RCV.NXT). The ACK field, when present, is SND.NXT: it acknowledges
// everything we sent, so a segment that is acceptable also moves the state forward.
#include <array>
#include <initializer_list>

#include <fmt/format.h>

#include "tcp/harness.hpp"

namespace synfin::test {
namespace {

constexpr TcpState kListen = TcpState::listen;
constexpr TcpState kClosed = TcpState::closed;
constexpr TcpState kSr = TcpState::syn_received;
constexpr TcpState kEst = TcpState::established;
constexpr TcpState kFw1 = TcpState::fin_wait_1;
constexpr TcpState kFw2 = TcpState::fin_wait_2;
constexpr TcpState kCw = TcpState::close_wait;
constexpr TcpState kCl = TcpState::closing;
constexpr TcpState kLa = TcpState::last_ack;
constexpr TcpState kTw = TcpState::time_wait;

struct StateSpec {
  const char* name;
  void (Harness::*reach)();
  TcpState state;
  std::uint32_t rcv_nxt;  // relative to the peer's ISN
  std::uint32_t snd_nxt;  // relative to our ISS
};

// Indexes into kStates, in the row order of every table below.
enum StateId { kP, kQ, kE, kF1, kF2, kCW, kCL, kLA, kTW, kStateCount };

const std::array<StateSpec, kStateCount> kStates = {{
    {"SYN-RECEIVED (passive)", &Harness::to_syn_received_passive, kSr, 1, 1},
    {"SYN-RECEIVED (simultaneous)", &Harness::to_syn_received_active, kSr, 1, 1},
    {"ESTABLISHED", &Harness::to_established_active, kEst, 1, 1},
    {"FIN-WAIT-1", &Harness::to_fin_wait_1, kFw1, 1, 2},
    {"FIN-WAIT-2", &Harness::to_fin_wait_2, kFw2, 1, 2},
    {"CLOSE-WAIT", &Harness::to_close_wait, kCw, 2, 1},
    {"CLOSING", &Harness::to_closing, kCl, 2, 2},
    {"LAST-ACK", &Harness::to_last_ack, kLa, 2, 2},
    {"TIME-WAIT", &Harness::to_time_wait, kTw, 2, 2},
}};

enum class Pos { left, inside, right_edge, beyond, below };
constexpr std::array<Pos, 5> kPositions = {Pos::left, Pos::inside, Pos::right_edge, Pos::beyond,
                                           Pos::below};
constexpr std::string_view to_string(Pos p) {
  switch (p) {
    case Pos::left: return "left edge";
    case Pos::inside: return "inside";
    case Pos::right_edge: return "right edge";
    case Pos::beyond: return "beyond the window";
    case Pos::below: return "below RCV.NXT";
  }
  return "?";
}

enum class Kind { rst, rst_ack, syn, syn_ack, ack, data, fin };
constexpr std::string_view to_string(Kind k) {
  switch (k) {
    case Kind::rst: return "RST";
    case Kind::rst_ack: return "RST-ACK";
    case Kind::syn: return "SYN";
    case Kind::syn_ack: return "SYN-ACK";
    case Kind::ack: return "ACK";
    case Kind::data: return "data";
    case Kind::fin: return "FIN";
  }
  return "?";
}

// What comes back.
enum class Reply {
  none,       // nothing at all
  ack,        // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (an unacceptable segment, step 1)
  challenge,  // the same segment, counted as an RFC 5961 challenge ACK
  ack_data,   // <SEQ=SND.NXT><ACK=RCV.NXT+10><CTL=ACK>: the 10 bytes were taken
  ack_fin,    // <SEQ=SND.NXT><ACK=RCV.NXT+1><CTL=ACK>: the FIN was taken
  syn_ack,    // our SYN-ACK again: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>
};

struct Outcome {
  Reply reply;
  TcpState after;
};
using Row = std::array<Outcome, 5>;  // by position: left, inside, right edge, beyond, below
using Table = std::array<Row, kStateCount>;

constexpr Outcome N(TcpState s) { return {Reply::none, s}; }
constexpr Outcome A(TcpState s) { return {Reply::ack, s}; }
constexpr Outcome C(TcpState s) { return {Reply::challenge, s}; }
constexpr Outcome D(TcpState s) { return {Reply::ack_data, s}; }
constexpr Outcome F(TcpState s) { return {Reply::ack_fin, s}; }
constexpr Outcome S(TcpState s) { return {Reply::syn_ack, s}; }

// RST and RST-ACK. Step 2 with RFC 5961 section 3: reset only at exactly RCV.NXT; elsewhere
// in the window a challenge ACK; outside it silence. TIME-WAIT ignores RSTs (RFC 1337, the
// default time_wait_rst = ignore).
constexpr Table kRst = {{
    /* P  */ {N(kListen), C(kSr), C(kSr), N(kSr), N(kSr)},
    /* Q  */ {N(kClosed), C(kSr), C(kSr), N(kSr), N(kSr)},
    /* E  */ {N(kClosed), C(kEst), C(kEst), N(kEst), N(kEst)},
    /* F1 */ {N(kClosed), C(kFw1), C(kFw1), N(kFw1), N(kFw1)},
    /* F2 */ {N(kClosed), C(kFw2), C(kFw2), N(kFw2), N(kFw2)},
    /* CW */ {N(kClosed), C(kCw), C(kCw), N(kCw), N(kCw)},
    /* CL */ {N(kClosed), C(kCl), C(kCl), N(kCl), N(kCl)},
    /* LA */ {N(kClosed), C(kLa), C(kLa), N(kLa), N(kLa)},
    /* TW */ {N(kTw), N(kTw), N(kTw), N(kTw), N(kTw)},
}};

// SYN without ACK. Step 4: in SYN-RECEIVED after a passive open, back to LISTEN; in the
// synchronized states a challenge ACK whatever the sequence number (RFC 5961 section 4:
// outside the window step 1 already answers with the same ACK). A SYN below RCV.NXT in
// SYN-RECEIVED is the peer's SYN again (SEG.SEQ = IRS): our SYN-ACK was lost, send it again.
constexpr Table kSyn = {{
    /* P  */ {N(kListen), N(kListen), N(kListen), A(kSr), S(kSr)},
    /* Q  */ {C(kSr), C(kSr), C(kSr), A(kSr), S(kSr)},
    /* E  */ {C(kEst), C(kEst), C(kEst), A(kEst), A(kEst)},
    /* F1 */ {C(kFw1), C(kFw1), C(kFw1), A(kFw1), A(kFw1)},
    /* F2 */ {C(kFw2), C(kFw2), C(kFw2), A(kFw2), A(kFw2)},
    /* CW */ {C(kCw), C(kCw), C(kCw), A(kCw), A(kCw)},
    /* CL */ {C(kCl), C(kCl), C(kCl), A(kCl), A(kCl)},
    /* LA */ {C(kLa), C(kLa), C(kLa), A(kLa), A(kLa)},
    /* TW */ {C(kTw), C(kTw), C(kTw), A(kTw), A(kTw)},
}};

// SYN-ACK acknowledging SND.NXT. As SYN, except that in a simultaneous open the peer's
// SYN-ACK (SEG.SEQ = IRS) completes the handshake (RFC 9293 figure 8), and in ESTABLISHED a
// SYN-ACK below RCV.NXT is the retransmission of one we already acknowledged: ACK it again.
constexpr Table kSynAck = {{
    /* P  */ {N(kListen), N(kListen), N(kListen), A(kSr), A(kSr)},
    /* Q  */ {C(kSr), C(kSr), C(kSr), A(kSr), N(kEst)},
    /* E  */ {C(kEst), C(kEst), C(kEst), A(kEst), A(kEst)},
    /* F1 */ {C(kFw1), C(kFw1), C(kFw1), A(kFw1), A(kFw1)},
    /* F2 */ {C(kFw2), C(kFw2), C(kFw2), A(kFw2), A(kFw2)},
    /* CW */ {C(kCw), C(kCw), C(kCw), A(kCw), A(kCw)},
    /* CL */ {C(kCl), C(kCl), C(kCl), A(kCl), A(kCl)},
    /* LA */ {C(kLa), C(kLa), C(kLa), A(kLa), A(kLa)},
    /* TW */ {C(kTw), C(kTw), C(kTw), A(kTw), A(kTw)},
}};

// A pure ACK of SND.NXT. Acceptable (table 6): step 5 moves the state on, nothing is sent.
// Unacceptable: an ACK, and the segment is dropped.
constexpr Table kAck = {{
    /* P  */ {N(kEst), N(kEst), N(kEst), A(kSr), A(kSr)},
    /* Q  */ {N(kEst), N(kEst), N(kEst), A(kSr), A(kSr)},
    /* E  */ {N(kEst), N(kEst), N(kEst), A(kEst), A(kEst)},
    /* F1 */ {N(kFw2), N(kFw2), N(kFw2), A(kFw1), A(kFw1)},
    /* F2 */ {N(kFw2), N(kFw2), N(kFw2), A(kFw2), A(kFw2)},
    /* CW */ {N(kCw), N(kCw), N(kCw), A(kCw), A(kCw)},
    /* CL */ {N(kTw), N(kTw), N(kTw), A(kCl), A(kCl)},
    /* LA */ {N(kClosed), N(kClosed), N(kClosed), A(kLa), A(kLa)},
    /* TW */ {N(kTw), N(kTw), N(kTw), A(kTw), A(kTw)},
}};

// 10 bytes of data with ACK of SND.NXT. At the left edge the data is taken and acknowledged;
// inside the window it is kept out of order and RCV.NXT is acknowledged at once (MAY-13);
// straddling the right edge the part inside is kept and the ACK announces the window. Once
// the peer's FIN has arrived the text is ignored (step 7), but the part beyond the window
// is still answered by an ACK (step 1), unless the ACK field ended the connection.
constexpr Table kData = {{
    /* P  */ {D(kEst), A(kEst), A(kEst), A(kSr), A(kSr)},
    /* Q  */ {D(kEst), A(kEst), A(kEst), A(kSr), A(kSr)},
    /* E  */ {D(kEst), A(kEst), A(kEst), A(kEst), A(kEst)},
    /* F1 */ {D(kFw2), A(kFw2), A(kFw2), A(kFw1), A(kFw1)},
    /* F2 */ {D(kFw2), A(kFw2), A(kFw2), A(kFw2), A(kFw2)},
    /* CW */ {N(kCw), N(kCw), A(kCw), A(kCw), A(kCw)},
    /* CL */ {N(kTw), N(kTw), A(kTw), A(kCl), A(kCl)},
    /* LA */ {N(kClosed), N(kClosed), N(kClosed), A(kLa), A(kLa)},
    /* TW */ {N(kTw), N(kTw), A(kTw), A(kTw), A(kTw)},
}};

// FIN-ACK without data. At the left edge the FIN is taken (step 8); ahead of RCV.NXT it is
// remembered and RCV.NXT acknowledged; below RCV.NXT it is old: ACK (in TIME-WAIT this is
// the retransmitted FIN, which also restarts 2 MSL, MUST-13).
constexpr Table kFin = {{
    /* P  */ {F(kCw), A(kEst), A(kEst), A(kSr), A(kSr)},
    /* Q  */ {F(kCw), A(kEst), A(kEst), A(kSr), A(kSr)},
    /* E  */ {F(kCw), A(kEst), A(kEst), A(kEst), A(kEst)},
    /* F1 */ {F(kTw), A(kFw2), A(kFw2), A(kFw1), A(kFw1)},
    /* F2 */ {F(kTw), A(kFw2), A(kFw2), A(kFw2), A(kFw2)},
    /* CW */ {A(kCw), A(kCw), A(kCw), A(kCw), A(kCw)},
    /* CL */ {A(kTw), A(kTw), A(kTw), A(kCl), A(kCl)},
    /* LA */ {N(kClosed), N(kClosed), N(kClosed), A(kLa), A(kLa)},
    /* TW */ {A(kTw), A(kTw), A(kTw), A(kTw), A(kTw)},
}};

const Table& table_for(Kind k) {
  switch (k) {
    case Kind::rst:
    case Kind::rst_ack: return kRst;
    case Kind::syn: return kSyn;
    case Kind::syn_ack: return kSynAck;
    case Kind::ack: return kAck;
    case Kind::data: return kData;
    case Kind::fin: return kFin;
  }
  return kAck;
}

In segment_for(const StateSpec& s, Kind k, Pos p, std::uint32_t wnd) {
  In in;
  in.ack = s.snd_nxt;
  switch (k) {
    case Kind::rst: in.flags = RST; in.ack = 0; break;
    case Kind::rst_ack: in.flags = RST | ACK; break;
    case Kind::syn: in.flags = SYN; in.ack = 0; break;
    case Kind::syn_ack: in.flags = SYN | ACK; break;
    case Kind::ack: in.flags = ACK; break;
    case Kind::data: in.flags = ACK | PSH; in.data = "0123456789"; break;
    case Kind::fin: in.flags = FIN | ACK; break;
  }
  const std::uint32_t len = static_cast<std::uint32_t>(in.data.size()) +
                            ((in.flags & SYN) ? 1u : 0u) + ((in.flags & FIN) ? 1u : 0u);
  switch (p) {
    case Pos::left: in.seq = s.rcv_nxt; break;
    case Pos::inside: in.seq = s.rcv_nxt + 100; break;
    case Pos::right_edge: in.seq = s.rcv_nxt + wnd - (len > 1 ? len / 2 : 1); break;
    case Pos::beyond: in.seq = s.rcv_nxt + wnd; break;
    case Pos::below: in.seq = s.rcv_nxt - std::max(len, 1u); break;
  }
  return in;
}

void run_case(StateId id, Kind k, Pos p) {
  const StateSpec& s = kStates[id];
  const Outcome want = table_for(k)[id][static_cast<std::size_t>(p)];
  SCOPED_TRACE(fmt::format("{}: {} at {}", s.name, to_string(k), to_string(p)));
  Harness h;
  (h.*s.reach)();
  ASSERT_EQ(h.state(), s.state);
  ASSERT_EQ(h.conn().rcv_nxt(), h.peer_iss() + s.rcv_nxt);
  ASSERT_EQ(h.conn().snd_nxt(), h.iss() + s.snd_nxt);
  const std::uint32_t wnd = h.conn().rcv_wnd();
  ASSERT_GT(wnd, 1000u);
  const std::uint32_t challenges = h.conn().info().challenge_acks;
  h.clear_events();

  h.in(segment_for(s, k, p, wnd));

  switch (want.reply) {
    case Reply::none:
      h.expect_none();
      break;
    case Reply::ack:
    case Reply::challenge:
      h.expect(ACK, s.snd_nxt, s.rcv_nxt);
      h.expect_none();
      break;
    case Reply::ack_data:
      h.expect(ACK, s.snd_nxt, s.rcv_nxt + 10);
      h.expect_none();
      EXPECT_EQ(h.receive(), "0123456789");
      break;
    case Reply::ack_fin:
      h.expect(ACK, s.snd_nxt, s.rcv_nxt + 1);
      h.expect_none();
      EXPECT_TRUE(h.has_event(EventKind::peer_closed));
      break;
    case Reply::syn_ack:
      h.expect(SYN | ACK, 0, s.rcv_nxt);
      h.expect_none();
      break;
  }
  EXPECT_EQ(h.conn().info().challenge_acks - challenges, want.reply == Reply::challenge ? 1u : 0u);
  EXPECT_EQ(h.state(), want.after);
  // Nothing outside the left edge may ever be delivered to the application.
  if (want.reply != Reply::ack_data && h.state() != kClosed) {
    EXPECT_EQ(h.receive(), "");
  }
}

void run_kind(Kind k) {
  for (int id = 0; id < kStateCount; ++id)
    for (Pos p : kPositions) run_case(static_cast<StateId>(id), k, p);
}

TEST(StateMatrix, Rst_Rfc5961OnlyExactRcvNxtResets) { run_kind(Kind::rst); }
TEST(StateMatrix, RstAck_Rfc5961OnlyExactRcvNxtResets) { run_kind(Kind::rst_ack); }
TEST(StateMatrix, Syn_ChallengeAckInSynchronizedStates) { run_kind(Kind::syn); }
TEST(StateMatrix, SynAck_ChallengeAckInSynchronizedStates) { run_kind(Kind::syn_ack); }
TEST(StateMatrix, Ack_AcceptableMovesStateUnacceptableIsAcked) { run_kind(Kind::ack); }

// With accept_free_space (the BSD choice), segments are judged against all the free buffer
// space, which may reach past the window an unscaled field can announce; but a SYN-RECEIVED
// reached from LISTEN keeps to the window its SYN-ACK announced, as a BSD SYN cache does. An
// RST past that window, inside the free space, is then dropped silently there (RFC 5961
// section 3.2), and draws a challenge ACK elsewhere. (FreeBSD suite: rcv-rst-syn-rcvd-*,
// rcv-rst-ack-syn-rcvd-*, via-listen against via-syn-sent.)
TEST(StateMatrix, PassiveSynReceivedJudgesAgainstTheAnnouncedWindowNotTheFreeSpace) {
  TcpConfig cfg = Harness::default_config();
  cfg.accept_free_space = true;
  cfg.recv_buffer = 131072;  // more than the 65535 an unscaled window announces
  constexpr std::uint32_t kPastWindow = 1 + 70000;
  {
    SCOPED_TRACE("SYN-RECEIVED from LISTEN");
    Harness h(cfg);
    h.to_syn_received_passive();
    h.in({.flags = RST, .seq = kPastWindow, .ack = 0});
    h.expect_none();
    EXPECT_EQ(h.state(), TcpState::syn_received);
    EXPECT_EQ(h.conn().info().challenge_acks, 0u);
    h.in({.flags = RST, .seq = 2, .ack = 0});  // in the window, not at RCV.NXT
    h.expect(ACK, 1, 1);
    EXPECT_EQ(h.state(), TcpState::syn_received);
  }
  for (auto reach : {&Harness::to_syn_received_active, &Harness::to_established_passive}) {
    Harness h(cfg);
    (h.*reach)();
    h.drain();
    const TcpState before = h.state();
    SCOPED_TRACE(to_string(before));
    h.in({.flags = RST, .seq = kPastWindow, .ack = 0});
    h.expect(ACK, 1, 1);  // inside the free space: a challenge ACK
    EXPECT_EQ(h.state(), before);
    EXPECT_EQ(h.conn().info().challenge_acks, 1u);
  }
}
// Where our FIN is outstanding and the BSD choice of sending it again with every ACK is on
// (the FreeBSD profile), an unacceptable segment is answered with the FIN and the ACK, but a
// SYN outside the window with a plain ACK at SND.NXT: RFC 5961 section 4.2 asks for that
// "irrespective of the sequence number", and FreeBSD does it (its state-event-engine
// scripts rcv-syn-{fin-wait-1,closing,last-ack}-outside-*).
TEST(StateMatrix, SynOutsideTheWindowGetsAPlainAckWhereFinIsResentWithAcks) {
  TcpConfig cfg = Harness::default_config();
  cfg.resend_fin_with_ack = true;
  for (StateId id : {kF1, kCL, kLA}) {
    const StateSpec& st = kStates[id];
    SCOPED_TRACE(st.name);
    Harness h(cfg);
    if (id == kCL) {
      // to_closing() expects the plain ACK of the crossing FIN that the default gives.
      h.to_fin_wait_1();
      h.in({.flags = FIN | ACK, .seq = 1, .ack = 1});
    } else {
      (h.*st.reach)();
    }
    h.drain();
    ASSERT_EQ(h.state(), st.state);
    // Beyond the window, a plain ACK answers with our FIN again...
    h.in({.flags = ACK, .seq = st.rcv_nxt + 200000, .ack = st.snd_nxt});
    h.expect(ACK | FIN, st.snd_nxt - 1, st.rcv_nxt);
    // ... and a SYN there, or below RCV.NXT, with a plain ACK at SND.NXT.
    {
      SCOPED_TRACE("SYN beyond the window");
      h.in({.flags = SYN, .seq = st.rcv_nxt + 200000, .ack = 0});
      h.expect(ACK, st.snd_nxt, st.rcv_nxt);
    }
    {
      SCOPED_TRACE("SYN below RCV.NXT");
      h.in({.flags = SYN, .seq = st.rcv_nxt - 1, .ack = 0});
      h.expect(ACK, st.snd_nxt, st.rcv_nxt);
    }
    h.expect_none();
    EXPECT_EQ(h.state(), st.state);
  }
}
TEST(StateMatrix, Data_AcceptedOnlyAtLeftEdge) { run_kind(Kind::data); }
TEST(StateMatrix, Fin_TakenOnlyAtLeftEdge) { run_kind(Kind::fin); }

// --- what the application hears when an RST at RCV.NXT is accepted (MUST-12) ---

struct RstWant {
  StateId id;
  std::optional<Error> reset_event;  // the `reset` event and its error, if any
  Error closed_error;                // the error of the `closed` event
};

// An RST at RCV.NXT in each state of `wants`: the events the application gets, and the
// RFC 9293 section 3.10.7.1 reset with which the closed connection answers what follows.
void expect_rst_events(const TcpConfig& cfg, std::initializer_list<RstWant> wants) {
  for (const RstWant& w : wants) {
    const StateSpec& s = kStates[w.id];
    SCOPED_TRACE(s.name);
    Harness h(cfg);
    (h.*s.reach)();
    h.clear_events();
    h.in({.flags = RST, .seq = s.rcv_nxt, .ack = 0});
    h.expect_none();
    EXPECT_EQ(h.state(), kClosed);
    auto reset = h.last_event(EventKind::reset);
    EXPECT_EQ(reset.has_value(), w.reset_event.has_value());
    if (reset && w.reset_event) {
      EXPECT_EQ(reset->error, *w.reset_event);
    }
    auto closed = h.last_event(EventKind::closed);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->error, w.closed_error);
    h.in({.flags = ACK, .seq = s.rcv_nxt, .ack = s.snd_nxt});
    Sent rst = h.out();
    EXPECT_EQ(rst.flags, RST);
    EXPECT_EQ(rst.rel_seq, s.snd_nxt);
  }
}

TEST(StateMatrix, Must12_RstEventPerState) {
  expect_rst_events(Harness::default_config(),
                    {
                        {kQ, Error::refused, Error::refused},  // MUST-11: active open, "connection refused"
                        {kE, Error::reset, Error::reset},
                        {kF1, Error::reset, Error::reset},
                        {kF2, Error::reset, Error::reset},
                        {kCW, Error::reset, Error::reset},
                        {kCL, std::nullopt, Error::none},  // section 3.10.7.4: only CLOSED
                        {kLA, std::nullopt, Error::none},
                    });
}

// The BSD and Linux choice, a knob (the FreeBSD profile sets it): an RST in CLOSING or
// LAST-ACK is reported as a reset to an application that only shut its sending side.
TEST(StateMatrix, RstAfterShutdownIsAnErrorWhenConfigured) {
  TcpConfig cfg = Harness::default_config();
  cfg.reset_after_shutdown_is_error = true;
  expect_rst_events(cfg, {{kCL, Error::reset, Error::reset}, {kLA, Error::reset, Error::reset}});
}

TEST(StateMatrix, RstInSynReceivedPassiveReturnsToListenSilently) {  // MUST-11
  Harness h;
  h.to_syn_received_passive();
  h.clear_events();
  h.in({.flags = RST | ACK, .seq = 1, .ack = 1});
  EXPECT_EQ(h.state(), kListen);
  h.expect_none();
  EXPECT_FALSE(h.has_event(EventKind::reset));  // "the user need not be informed"
  EXPECT_FALSE(h.has_event(EventKind::closed));
}

// --- TIME-WAIT and RST: RFC 1337 by default, RFC 9293 when configured ---

TEST(StateMatrix, TimeWaitRstIgnoredByDefault_Rfc1337) {
  Harness h;
  h.to_time_wait();
  h.in({.flags = RST, .seq = 2, .ack = 0});
  h.expect_none();
  EXPECT_EQ(h.state(), kTw);
  // The 2 MSL timer still runs to its end.
  h.advance(2 * h.config().msl - 1us);
  EXPECT_EQ(h.state(), kTw);
  h.advance(1us);
  EXPECT_EQ(h.state(), kClosed);
}

TEST(StateMatrix, TimeWaitRstClosesWhenConfigured) {
  TcpConfig c = Harness::default_config();
  c.time_wait_rst = TimeWaitRst::close;
  Harness h(c);
  h.to_time_wait();
  // In the window but not exact: still a challenge ACK, never a reset.
  h.in({.flags = RST, .seq = 50, .ack = 0});
  h.expect(ACK, 2, 2);
  EXPECT_EQ(h.state(), kTw);
  h.in({.flags = RST, .seq = 2, .ack = 0});
  h.expect_none();
  EXPECT_EQ(h.state(), kClosed);
  EXPECT_FALSE(h.has_event(EventKind::reset));
}

// --- step 5: the ACK field ---

TEST(StateMatrix, AckOfUnsentDataIsAckedAndDropped) {
  for (StateId id : {kE, kF1, kF2, kCW, kCL, kLA, kTW}) {
    const StateSpec& s = kStates[id];
    SCOPED_TRACE(s.name);
    Harness h;
    (h.*s.reach)();
    h.in({.flags = ACK | PSH, .seq = s.rcv_nxt, .ack = s.snd_nxt + 100, .data = "xyz"});
    h.expect(ACK, s.snd_nxt, s.rcv_nxt);  // the data is not taken
    h.expect_none();
    EXPECT_EQ(h.state(), s.state);
    if (s.state != kCl && s.state != kLa && s.state != kTw) {
      EXPECT_EQ(h.receive(), "");
    }
  }
}

TEST(StateMatrix, AckOfUnsentDataInSynReceivedGetsReset) {
  for (StateId id : {kP, kQ}) {
    SCOPED_TRACE(kStates[id].name);
    Harness h;
    (h.*kStates[id].reach)();
    h.in({.flags = ACK, .seq = 1, .ack = 5});
    Sent rst = h.out();
    EXPECT_EQ(rst.flags, RST);  // <SEQ=SEG.ACK><CTL=RST>
    EXPECT_EQ(rst.rel_seq, 5u);
    EXPECT_EQ(h.state(), kSr);
  }
}

TEST(StateMatrix, SegmentWithoutAckBitIsDropped) {
  for (StateId id : {kE, kF1, kF2, kCW, kCL, kLA, kTW}) {
    const StateSpec& s = kStates[id];
    SCOPED_TRACE(s.name);
    Harness h;
    (h.*s.reach)();
    h.in({.flags = PSH, .seq = s.rcv_nxt, .ack = 0, .data = "abc"});
    h.expect_none();
    EXPECT_EQ(h.state(), s.state);
    EXPECT_EQ(h.conn().rcv_nxt(), h.peer_iss() + s.rcv_nxt);
  }
}

// RFC 5961 section 5 (MAY-12, then MUST): an ACK older than SND.UNA - MAX.SND.WND is a
// blind injection: challenge ACK, the data is not taken. One within that range is an old
// duplicate: harmless, its data is taken.
TEST(StateMatrix, May12_AckOlderThanMaxSndWndGetsChallengeAck) {
  Harness h;
  h.to_syn_sent();
  h.in({.flags = SYN | ACK, .seq = 0, .ack = 1, .win = 1000, .mss = 1000});
  h.expect(ACK, 1, 1);
  for (int i = 0; i < 3; ++i) {
    h.send(std::string(1000, 'a'));
    h.expect(ACK | PSH, 1 + 1000 * i, 1, 1000);
    h.in({.flags = ACK, .seq = 1, .ack = 1001 + 1000u * i, .win = 1000});
  }
  ASSERT_EQ(h.conn().snd_una(), h.iss() + 3001);
  // SND.UNA - MAX.SND.WND = 2001.
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 2000, .win = 1000, .data = "evil"});
  h.expect(ACK, 3001, 1);
  EXPECT_EQ(h.conn().info().challenge_acks, 1u);
  EXPECT_EQ(h.receive(), "");
  h.in({.flags = ACK | PSH, .seq = 1, .ack = 2001, .win = 1000, .data = "good"});
  h.expect(ACK, 3001, 5);
  EXPECT_EQ(h.receive(), "good");
  EXPECT_EQ(h.state(), kEst);
}

// RFC 5961 section 7: challenge ACKs are rate limited per connection.
TEST(StateMatrix, ChallengeAcksAreRateLimited) {
  Harness h;
  h.to_established_active();
  const auto limit = h.config().challenge_ack_limit;
  for (int i = 0; i < limit + 5; ++i) h.in({.flags = RST, .seq = 100, .ack = 0});
  EXPECT_EQ(h.drain().size(), limit);
  h.advance(1s);
  h.in({.flags = RST, .seq = 100, .ack = 0});
  h.expect(ACK, 1, 1);
  EXPECT_EQ(h.state(), kEst);
}

}  // namespace
}  // namespace synfin::test

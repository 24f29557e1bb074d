// TIME-WAIT as a compact record (tcp/time_wait.hpp, stack/time_wait_table.hpp): the stack
// against a raw peer. Once the application has let go of a connection in TIME-WAIT, the
// stack keeps a record of well under 128 bytes that answers the peer as the connection
// would: a retransmitted FIN, RSTs (RFC 1337, RFC 5961), SYNs (MAY-2), PAWS, and expiry
// after 2 MSL (MUST-13). The last test feeds random segments to two stacks, one compacting
// and one keeping whole connections, and asks for the same bytes on the wire.
#include <random>

#include "stack/raw_peer.hpp"
#include "stack/time_wait_table.hpp"
#include "stack/timer_wheel.hpp"
#include "tcp/time_wait.hpp"

namespace synfin::test {
namespace {

const Ipv4Addr kUs = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kPeer = Ipv4Addr::of(10, 0, 0, 2);
constexpr auto kTw = static_cast<std::size_t>(TcpState::time_wait);

// A segment from the peer, options included (raw_peer's RawTcp carries only an MSS).
struct Seg {
  std::uint16_t sport = 5555;
  std::uint16_t dport = 80;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = flag::ACK;
  std::uint16_t win = 65535;
  wire::TcpOptions opt;
  std::string data;
};

std::vector<std::uint8_t> packet(const Seg& s) {
  const wire::TcpHeaderFields f{s.sport, s.dport, wire::Seq{s.seq}, wire::Seq{s.ack}, s.flags, s.win, 0};
  std::vector<std::uint8_t> p(20 + wire::kTcpMaxHeader + s.data.size());
  std::span<std::uint8_t> tcp(p.data() + 20, p.size() - 20);
  const std::size_t hl = wire::write_tcp_header(tcp, f, s.opt, wire::kDefaultLayout);
  std::copy(s.data.begin(), s.data.end(), p.begin() + static_cast<std::ptrdiff_t>(20 + hl));
  p.resize(20 + hl + s.data.size());
  wire::finish_tcp_checksum_v4(std::span<std::uint8_t>(p.data() + 20, hl + s.data.size()), kPeer.value, kUs.value);
  wire::Ipv4Header h;
  h.src = kPeer;
  h.dst = kUs;
  h.total_length = static_cast<std::uint16_t>(p.size());
  wire::write_ipv4_header(p, h);
  return p;
}

struct Recorder : TraceSink {
  void on_trace(const TraceEvent& e) override { events.push_back(e); }
  bool saw_state(TcpState from, TcpState to, StateCause why) const {
    for (const auto& e : events)
      if (e.kind == TraceKind::state_change && e.from == from && e.to == to && e.cause == why) return true;
    return false;
  }
  std::vector<TraceEvent> events;
};

StackConfig config(const TcpConfig& tcp = {}) {
  StackConfig c = test_config("us");
  c.tcp = tcp;
  return c;
}

// The stack listens on port 80; the peer opens, the application accepts and closes first,
// the peer answers with its FIN: the stack is the active closer and ends in TIME-WAIT.
class CompactTimeWait : public ::testing::Test {
 protected:
  explicit CompactTimeWait(StackConfig c = config()) : s(c) {
    s.add_interface({kUs, 24, 1500});
    s.set_trace(&trace);
    listener = *s.listen(Ipv4Addr{}, 80, 16);
  }

  std::vector<Captured> inject(const Seg& seg) {
    s.receive(packet(seg), now);
    return sent_by(s, now);
  }
  void advance(Duration d) {
    now += d;
    s.poll(now);
  }
  std::uint64_t time_wait() const { return s.counters().connections_by_state[kTw]; }

  // Up to ESTABLISHED, accepted. Returns the handle.
  Handle open(std::optional<wire::TcpOptions> syn_options = {}) {
    Seg syn{.seq = peer_isn, .flags = flag::SYN};
    if (syn_options) syn.opt = *syn_options;
    auto out = inject(syn);
    EXPECT_EQ(out.size(), 1u);
    our_isn = out.at(0).tcp->seq.raw();
    Seg ack{.seq = peer_isn + 1, .ack = our_isn + 1};
    if (syn_options && syn_options->has_timestamps) {
      ack.opt.has_timestamps = true;
      ack.opt.ts_val = syn_options->ts_val + 1;
      ack.opt.ts_ecr = out.at(0).tcp->options.ts_val;
    }
    EXPECT_TRUE(inject(ack).empty());
    auto a = s.accept(listener);
    EXPECT_TRUE(a.ok());
    return *a;
  }

  // The application closes; the peer acknowledges our FIN and sends its own.
  void to_time_wait(std::optional<wire::TcpOptions> syn_options = {}) {
    h = open(syn_options);
    ASSERT_EQ(s.close(h, now), Error::none);
    auto fin = sent_by(s, now);
    ASSERT_EQ(fin.size(), 1u);
    ASSERT_EQ(fin[0].tcp->flags, flag::FIN | flag::ACK);
    Seg peer_fin{.seq = peer_isn + 1, .ack = our_isn + 2, .flags = flag::FIN | flag::ACK};
    if (syn_options && syn_options->has_timestamps) {
      peer_fin.opt.has_timestamps = true;
      peer_fin.opt.ts_val = syn_options->ts_val + 2;
      peer_fin.opt.ts_ecr = fin[0].tcp->options.ts_val;
    }
    auto ack = inject(peer_fin);
    ASSERT_EQ(ack.size(), 1u);
    EXPECT_EQ(ack[0].tcp->flags, flag::ACK);
    EXPECT_EQ(ack[0].tcp->seq.raw(), our_isn + 2);
    EXPECT_EQ(ack[0].tcp->ack.raw(), peer_isn + 2);
    entered = now;
  }

  // What the peer's next in-order segment carries.
  std::uint32_t rcv_nxt() const { return peer_isn + 2; }
  std::uint32_t snd_nxt() const { return our_isn + 2; }

  Recorder trace;
  Stack s;
  Handle listener;
  Handle h;
  Instant now = at(10s);
  Instant entered{};
  std::uint32_t peer_isn = 1000;
  std::uint32_t our_isn = 0;
};

TEST_F(CompactTimeWait, TheActiveCloserKeepsACompactRecord) {
  to_time_wait();
  EXPECT_EQ(s.counters().time_wait_compacted, 1u);
  EXPECT_EQ(time_wait(), 1u);
  EXPECT_EQ(s.connection_count(), 1u);
  EXPECT_EQ(s.timer_count(), 1u);
  EXPECT_EQ(s.buffered_bytes(), 0u);
  // The 2 MSL timer runs (MUST-13; MSL is 30 s by default).
  EXPECT_LE(s.next_deadline(), entered + 60s);
  advance(entered + 60s - 1ms - now);
  EXPECT_EQ(time_wait(), 1u);
  advance(1ms);
  EXPECT_EQ(time_wait(), 0u);
  EXPECT_EQ(s.connection_count(), 0u);
  // The handle was given back: it behaves like any closed handle.
  EXPECT_EQ(s.info(h).error(), Error::not_connected);
  std::uint8_t buf[4];
  EXPECT_EQ(s.recv(h, buf, now).error(), Error::not_connected);
  EXPECT_EQ(s.close(h, now), Error::not_connected);
}

TEST_F(CompactTimeWait, Must13RetransmittedFinIsAckedAndRestartsTheTimer) {
  to_time_wait();
  advance(50s);
  EXPECT_EQ(time_wait(), 1u);
  // Our ACK of the FIN was lost: the peer sends the FIN again.
  auto out = inject({.seq = peer_isn + 1, .ack = snd_nxt(), .flags = flag::FIN | flag::ACK});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::ACK);
  EXPECT_EQ(out[0].tcp->seq.raw(), snd_nxt());
  EXPECT_EQ(out[0].tcp->ack.raw(), rcv_nxt());
  EXPECT_EQ(out[0].ip.dst, kPeer);
  // 2 MSL from the retransmission, not from entering TIME-WAIT.
  advance(59s);  // 109 s after entering
  EXPECT_EQ(time_wait(), 1u);
  advance(999ms);
  EXPECT_EQ(s.connection_count(), 1u);
  advance(1ms);
  EXPECT_EQ(time_wait(), 0u);
  EXPECT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(s.timer_count(), 0u);
  EXPECT_TRUE(sent_by(s, now).empty());  // nothing is sent on expiry
  EXPECT_TRUE(trace.saw_state(TcpState::time_wait, TcpState::closed, StateCause::time_wait_expired));
}

TEST_F(CompactTimeWait, Rfc1337RstIsIgnoredByDefault) {
  to_time_wait();
  EXPECT_TRUE(inject({.seq = rcv_nxt(), .flags = flag::RST}).empty());
  EXPECT_TRUE(inject({.seq = rcv_nxt(), .ack = snd_nxt(), .flags = flag::RST | flag::ACK}).empty());
  EXPECT_EQ(time_wait(), 1u);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_unexpected), 2u);
  advance(60s);
  EXPECT_EQ(time_wait(), 0u);
}

class CompactTimeWaitRstCloses : public CompactTimeWait {
 protected:
  static TcpConfig tcp() {
    TcpConfig t;
    t.time_wait_rst = TimeWaitRst::close;
    return t;
  }
  CompactTimeWaitRstCloses() : CompactTimeWait(config(tcp())) {}
};

TEST_F(CompactTimeWaitRstCloses, RstAtRcvNxtClosesAndOneElsewhereInTheWindowIsChallenged) {
  to_time_wait();
  // RFC 5961 section 3.2: in the window but not at RCV.NXT: a challenge ACK.
  auto out = inject({.seq = rcv_nxt() + 100, .flags = flag::RST});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::ACK);
  EXPECT_EQ(out[0].tcp->seq.raw(), snd_nxt());
  EXPECT_EQ(out[0].tcp->ack.raw(), rcv_nxt());
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_rst_not_exact), 1u);
  EXPECT_EQ(time_wait(), 1u);
  // Outside the window: dropped silently.
  EXPECT_TRUE(inject({.seq = rcv_nxt() - 1, .flags = flag::RST}).empty());
  EXPECT_EQ(time_wait(), 1u);
  // At RCV.NXT: the record is gone (RFC 9293 section 3.10.7.4, as configured).
  EXPECT_TRUE(inject({.seq = rcv_nxt(), .flags = flag::RST}).empty());
  EXPECT_EQ(time_wait(), 0u);
  EXPECT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(s.timer_count(), 0u);
  EXPECT_TRUE(trace.saw_state(TcpState::time_wait, TcpState::closed, StateCause::rcv_rst));
}

TEST_F(CompactTimeWait, Rfc5961SynInTheWindowGetsAChallengeAck) {
  to_time_wait();
  // At RCV.NXT, not beyond it: not a new incarnation (MAY-2) but a SYN in the window.
  auto out = inject({.seq = rcv_nxt(), .flags = flag::SYN});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::ACK);
  EXPECT_EQ(out[0].tcp->seq.raw(), snd_nxt());
  EXPECT_EQ(out[0].tcp->ack.raw(), rcv_nxt());
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_syn_in_window), 1u);
  EXPECT_EQ(time_wait(), 1u);
}

TEST_F(CompactTimeWait, UnacceptableSegmentsAreAnsweredWithARateLimitedAck) {
  to_time_wait();
  // Old data: acknowledged again (RFC 9293 section 3.10.7.4, first step).
  for (int i = 0; i < 10; ++i) {
    auto out = inject({.seq = peer_isn + 1 - 10, .ack = snd_nxt(), .data = "0123456789"});
    ASSERT_EQ(out.size(), 1u) << i;
    EXPECT_EQ(out[0].tcp->ack.raw(), rcv_nxt());
  }
  // RFC 5961 section 7: ten a second at most.
  EXPECT_TRUE(inject({.seq = peer_isn + 1 - 10, .ack = snd_nxt(), .data = "0123456789"}).empty());
  advance(1s);
  EXPECT_EQ(inject({.seq = peer_isn + 1 - 10, .ack = snd_nxt(), .data = "0123456789"}).size(), 1u);
  // An ACK of something never sent is answered too.
  auto out = inject({.seq = rcv_nxt(), .ack = snd_nxt() + 5});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_bad_ack), 1u);
  // A plain in-window ACK needs no answer.
  EXPECT_TRUE(inject({.seq = rcv_nxt(), .ack = snd_nxt()}).empty());
  EXPECT_EQ(time_wait(), 1u);
}

TEST_F(CompactTimeWait, May2ANewSynBeyondTheOldSequenceSpaceOpensANewConnection) {
  to_time_wait();
  advance(5s);
  auto out = inject({.seq = rcv_nxt() + 100000, .flags = flag::SYN});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->flags, flag::SYN | flag::ACK);
  EXPECT_EQ(out[0].tcp->ack.raw(), rcv_nxt() + 100001);
  EXPECT_EQ(time_wait(), 0u);
  EXPECT_EQ(s.counters().connections_by_state[static_cast<std::size_t>(TcpState::syn_received)], 1u);
  const std::uint32_t isn2 = out[0].tcp->seq.raw();
  EXPECT_TRUE(inject({.seq = rcv_nxt() + 100001, .ack = isn2 + 1}).empty());
  EXPECT_TRUE(s.accept(listener).ok());
  EXPECT_EQ(s.connection_count(), 1u);
}

TEST_F(CompactTimeWait, Rfc7323PawsDropsAnOldTimestampAndTheAckEchoesTsRecent) {
  wire::TcpOptions o;
  o.has_mss = true;
  o.mss = 1460;
  o.has_timestamps = true;
  o.ts_val = 5000;
  o.sack_permitted = true;
  to_time_wait(o);
  ASSERT_EQ(s.counters().time_wait_compacted, 1u);
  // A retransmitted FIN is answered before its timestamp is looked at: the ACK echoes
  // TS.Recent, from the peer's first FIN.
  Seg fin{.seq = peer_isn + 1, .ack = snd_nxt(), .flags = flag::FIN | flag::ACK};
  fin.opt.has_timestamps = true;
  fin.opt.ts_val = 5100;
  advance(1s);
  auto out = inject(fin);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].tcp->options.has_timestamps);
  EXPECT_EQ(out[0].tcp->options.ts_ecr, 5002u);
  // An acceptable segment with a newer one moves TS.Recent (RFC 7323 section 4.3).
  Seg newer{.seq = rcv_nxt(), .ack = snd_nxt()};
  newer.opt.has_timestamps = true;
  newer.opt.ts_val = 5100;
  EXPECT_TRUE(inject(newer).empty());
  // An older timestamp: PAWS drops it and acknowledges.
  Seg old{.seq = rcv_nxt(), .ack = snd_nxt()};
  old.opt.has_timestamps = true;
  old.opt.ts_val = 4000;
  out = inject(old);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tcp->options.ts_ecr, 5100u);
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_paws), 1u);
  // Without a timestamp at all: dropped (RFC 7323 section 3.2), no answer.
  EXPECT_TRUE(inject({.seq = rcv_nxt(), .ack = snd_nxt()}).empty());
  EXPECT_EQ(s.counters().drop_count(DropReason::tcp_no_timestamp), 1u);
}

// RFC 6191 (SHLD-4): with timestamps in both incarnations, the timestamp decides whether a
// SYN may reopen TIME-WAIT, not the sequence number alone. The same for a compact record
// (parameter true) and for a whole connection left in TIME-WAIT (false).
class TimeWaitTimestampReopen : public CompactTimeWait, public ::testing::WithParamInterface<bool> {
 protected:
  static StackConfig cfg() {
    StackConfig c = config();
    c.compact_time_wait = GetParam();
    return c;
  }
  TimeWaitTimestampReopen() : CompactTimeWait(cfg()) {}

  // Up to TIME-WAIT with timestamps: TS.Recent is then 5002 (the peer's FIN).
  void to_time_wait_with_timestamps() {
    wire::TcpOptions o;
    o.has_mss = true;
    o.mss = 1460;
    o.has_timestamps = true;
    o.ts_val = 5000;
    to_time_wait(o);
    ASSERT_EQ(s.counters().time_wait_compacted, GetParam() ? 1u : 0u);
    advance(1s);
  }
  Seg syn(std::uint32_t seq, std::optional<std::uint32_t> ts_val) const {
    Seg x{.seq = seq, .flags = flag::SYN};
    x.opt.has_mss = true;
    x.opt.mss = 1460;
    if (ts_val) {
      x.opt.has_timestamps = true;
      x.opt.ts_val = *ts_val;
    }
    return x;
  }
  bool answered_with_syn_ack(const std::vector<Captured>& out, std::uint32_t seq) const {
    return out.size() == 1 && out[0].tcp->flags == (flag::SYN | flag::ACK) && out[0].tcp->ack.raw() == seq + 1;
  }
  std::uint64_t syn_received() const {
    return s.counters().connections_by_state[static_cast<std::size_t>(TcpState::syn_received)];
  }
};

TEST_P(TimeWaitTimestampReopen, ANewerTimestampReopensEvenBelowTheOldSequenceSpace) {
  to_time_wait_with_timestamps();
  const std::uint32_t seq = rcv_nxt() - 50000;  // a random ISN may well fall below RCV.NXT
  auto out = inject(syn(seq, 6000));
  EXPECT_TRUE(answered_with_syn_ack(out, seq));
  EXPECT_EQ(time_wait(), 0u);
  EXPECT_EQ(syn_received(), 1u);
}

TEST_P(TimeWaitTimestampReopen, AnOlderTimestampKeepsTimeWaitEvenBeyondTheOldSequenceSpace) {
  to_time_wait_with_timestamps();
  const std::uint32_t seq = rcv_nxt() + 100000;
  auto out = inject(syn(seq, 4000));
  EXPECT_FALSE(answered_with_syn_ack(out, seq));
  for (const auto& c : out) EXPECT_FALSE(c.tcp->flags & flag::SYN);
  EXPECT_EQ(time_wait(), 1u);
  EXPECT_EQ(syn_received(), 0u);
}

TEST_P(TimeWaitTimestampReopen, AnEqualTimestampFallsBackToTheSequenceNumber) {
  to_time_wait_with_timestamps();
  EXPECT_FALSE(answered_with_syn_ack(inject(syn(rcv_nxt() - 10, 5002)), rcv_nxt() - 10));
  EXPECT_EQ(time_wait(), 1u);
  const std::uint32_t seq = rcv_nxt() + 100000;
  EXPECT_TRUE(answered_with_syn_ack(inject(syn(seq, 5002)), seq));
  EXPECT_EQ(time_wait(), 0u);
}

TEST_P(TimeWaitTimestampReopen, ASynWithoutTimestampsIsJudgedBySequenceNumber) {
  to_time_wait_with_timestamps();
  // The new incarnation would not use timestamps: RFC 1122's rule (MAY-2) alone.
  EXPECT_FALSE(answered_with_syn_ack(inject(syn(rcv_nxt() - 10, std::nullopt)), rcv_nxt() - 10));
  EXPECT_EQ(time_wait(), 1u);
  const std::uint32_t seq = rcv_nxt() + 100000;
  EXPECT_TRUE(answered_with_syn_ack(inject(syn(seq, std::nullopt)), seq));
  EXPECT_EQ(time_wait(), 0u);
}

INSTANTIATE_TEST_SUITE_P(CompactAndWhole, TimeWaitTimestampReopen, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Compact" : "Whole"; });

TEST_F(CompactTimeWait, AHandleStillHeldKeepsTheWholeConnectionUntilClosed) {
  h = open();
  ASSERT_EQ(s.shutdown(h, now), Error::none);  // a half-close: the application still reads
  auto fin = sent_by(s, now);
  ASSERT_EQ(fin.size(), 1u);
  auto ack = inject({.seq = peer_isn + 1, .ack = our_isn + 2, .flags = flag::FIN | flag::ACK});
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_EQ(s.info(h)->state, TcpState::time_wait);
  EXPECT_EQ(s.counters().time_wait_compacted, 0u);
  std::uint8_t buf[4];
  EXPECT_EQ(*s.recv(h, buf, now), 0u);  // end of stream
  ASSERT_EQ(s.close(h, now), Error::none);
  EXPECT_EQ(s.counters().time_wait_compacted, 1u);
  EXPECT_EQ(time_wait(), 1u);
  EXPECT_EQ(s.info(h).error(), Error::not_connected);
}

TEST_F(CompactTimeWait, UnreadDataKeepsTheWholeConnection) {
  h = open();
  ASSERT_EQ(s.shutdown(h, now), Error::none);
  (void)sent_by(s, now);
  // The peer's last data and FIN; the application closes without reading them.
  EXPECT_EQ(inject({.seq = peer_isn + 1, .ack = our_isn + 2, .flags = flag::FIN | flag::ACK, .data = "bye"}).size(), 1u);
  ASSERT_EQ(s.close(h, now), Error::none);
  EXPECT_EQ(s.counters().time_wait_compacted, 0u);
  EXPECT_EQ(time_wait(), 1u);
  advance(60s);
  EXPECT_EQ(s.connection_count(), 0u);
  EXPECT_EQ(s.timer_count(), 0u);
}

TEST(CompactTimeWaitPorts, Rfc6056ATupleInTimeWaitIsNotReusedUntilItExpires) {
  StackConfig c = config();
  c.ephemeral_low = c.ephemeral_high = 40000;  // one ephemeral port
  Stack s(c);
  s.add_interface({kUs, 24, 1500});
  Instant now = at(1s);
  Handle h = *s.connect(kPeer, 80, now);
  auto syn = sent_by(s, now);
  ASSERT_EQ(syn.size(), 1u);
  const std::uint32_t isn = syn[0].tcp->seq.raw();
  auto in = [&](Seg seg) {
    seg.sport = 80;
    seg.dport = 40000;
    s.receive(packet(seg), now);
    return sent_by(s, now);
  };
  ASSERT_EQ(in({.seq = 7000, .ack = isn + 1, .flags = flag::SYN | flag::ACK}).size(), 1u);
  ASSERT_EQ(s.close(h, now), Error::none);
  ASSERT_EQ(sent_by(s, now).size(), 1u);  // FIN
  ASSERT_EQ(in({.seq = 7001, .ack = isn + 2, .flags = flag::FIN | flag::ACK}).size(), 1u);
  ASSERT_EQ(s.counters().time_wait_compacted, 1u);
  // The only port's tuple is in TIME-WAIT: neither the ephemeral choice nor an explicit
  // bind may take it.
  EXPECT_EQ(s.connect(kPeer, 80, now).error(), Error::address_in_use);
  EXPECT_EQ(s.connect(kPeer, 80, now, {kUs, 40000}).error(), Error::address_in_use);
  // Another remote port is another tuple.
  EXPECT_TRUE(s.connect(kPeer, 81, now, {kUs, 40000}).ok());
  now += 60s;
  s.poll(now);
  EXPECT_EQ(s.counters().connections_by_state[kTw], 0u);
  EXPECT_TRUE(s.connect(kPeer, 80, now).ok());
}

TEST(CompactTimeWaitCost, ARecordAndItsIndexAndTimerTakeUnder128Bytes) {
  static_assert(sizeof(tcp::TimeWaitRecord) <= 128);
  stack::TimeWaitTable table;
  stack::TimerWheel wheel;
  constexpr std::uint32_t kN = 100000;
  for (std::uint32_t i = 0; i < kN; ++i) {
    tcp::TimeWaitRecord r;
    r.tuple = {kUs.value, kPeer.value + i / 60000, static_cast<std::uint16_t>(1024 + i % 60000), 80};
    r.rcv_nxt = wire::Seq{i};
    const std::uint32_t id = table.insert(r);
    wheel.schedule(id, at(60s) + Duration{i});
  }
  const double per = static_cast<double>(table.bytes() + wheel.bytes()) / kN;
  EXPECT_LE(per, 128.0);
  // And every record is found again by its tuple.
  for (std::uint32_t i = 0; i < kN; i += 997) {
    const tcp::FourTuple t{kUs.value, kPeer.value + i / 60000, static_cast<std::uint16_t>(1024 + i % 60000), 80};
    const std::uint32_t r = table.find(t);
    ASSERT_NE(r, stack::TimeWaitTable::kNone);
    EXPECT_EQ(table[r].rcv_nxt.raw(), i);
  }
  // Erasing half keeps the rest findable (backward-shift deletion), and frees their numbers.
  for (std::uint32_t r = 0; r < kN; r += 2) table.erase(r);
  EXPECT_EQ(table.size(), kN / 2);
  for (std::uint32_t r = 1; r < kN; r += 2) ASSERT_EQ(table.find(table[r].tuple), r);
  EXPECT_EQ(table.find({kUs.value, kPeer.value, 1024, 80}), stack::TimeWaitTable::kNone);
  EXPECT_LT(table.insert(tcp::TimeWaitRecord{.tuple = {kUs.value, kPeer.value, 1024, 80}}), kN);
}

// --- a compact record answers exactly as the whole connection does -------------------------

// Two stacks, identical but for compact_time_wait, fed the same segments at the same times.
class Twins {
 public:
  explicit Twins(StackConfig c) : a_(with(c, true)), b_(with(c, false)) {
    for (Stack* s : {&a_, &b_}) {
      s->add_interface({kUs, 24, 1500});
      listener_ = *s->listen(Ipv4Addr{}, 80, 64);
    }
    a_.set_trace(&ta_);
    b_.set_trace(&tb_);
  }

  // Both take the segments as one batch, then transmit. Returns what they sent (the same).
  std::vector<Captured> feed(const std::vector<Seg>& segs) {
    for (const Seg& seg : segs) {
      a_.receive(packet(seg), now);
      b_.receive(packet(seg), now);
    }
    return compare("feed");
  }
  std::vector<Captured> advance(Duration d) {
    now += d;
    a_.poll(now);
    b_.poll(now);
    return compare("poll");
  }
  // The application's part, done on both.
  template <typename F>
  std::vector<Captured> app(F&& f) {
    f(a_);
    f(b_);
    return compare("app");
  }

  Stack& compacting() { return a_; }
  Stack& whole() { return b_; }
  Handle listener() const { return listener_; }
  Instant now = at(100s);
  std::string context;

 private:
  static StackConfig with(StackConfig c, bool compact) {
    c.compact_time_wait = compact;
    return c;
  }

  std::vector<Captured> compare(const char* what) {
    auto pa = sent_by(a_, now);
    auto pb = sent_by(b_, now);
    EXPECT_EQ(pa.size(), pb.size()) << what << " " << context;
    for (std::size_t i = 0; i < std::min(pa.size(), pb.size()); ++i)
      EXPECT_EQ(pa[i].bytes, pb[i].bytes) << what << " packet " << i << " " << context;
    const Counters& ca = a_.counters();
    const Counters& cb = b_.counters();
    EXPECT_EQ(ca.segments_in, cb.segments_in) << context;
    EXPECT_EQ(ca.segments_out, cb.segments_out) << context;
    EXPECT_EQ(ca.resets_out, cb.resets_out) << context;
    EXPECT_EQ(ca.connections_accepted, cb.connections_accepted) << context;
    EXPECT_EQ(ca.drops, cb.drops) << what << " " << context;
    EXPECT_EQ(ca.connections_by_state, cb.connections_by_state) << what << " " << context;
    EXPECT_EQ(a_.connection_count(), b_.connection_count()) << context;
    EXPECT_EQ(a_.timer_count(), b_.timer_count()) << context;
    EXPECT_EQ(a_.next_deadline(), b_.next_deadline()) << what << " " << context;
    EXPECT_EQ(a_.pending_packets(), b_.pending_packets()) << context;
    // The same trace, but for what a record has no socket for (the handle, cwnd).
    EXPECT_EQ(ta_.events.size(), tb_.events.size()) << what << " " << context;
    for (std::size_t i = 0; i < std::min(ta_.events.size(), tb_.events.size()); ++i) {
      const TraceEvent& x = ta_.events[i];
      const TraceEvent& y = tb_.events[i];
      const bool same = x.kind == y.kind && x.at == y.at && x.from == y.from && x.to == y.to &&
                        x.cause == y.cause && x.drop == y.drop && x.timer == y.timer &&
                        x.segment.seq == y.segment.seq && x.segment.ack == y.segment.ack &&
                        x.segment.flags == y.segment.flags && x.segment.window == y.segment.window &&
                        x.segment.src_port == y.segment.src_port && x.segment.dst_port == y.segment.dst_port &&
                        x.segment.payload_len == y.segment.payload_len;
      EXPECT_TRUE(same) << what << " trace event " << i << ": " << TextTraceSink::format(x) << " vs "
                        << TextTraceSink::format(y) << " " << context;
    }
    ta_.events.clear();
    tb_.events.clear();
    return pa;
  }

  Stack a_;
  Stack b_;
  Recorder ta_;
  Recorder tb_;
  Handle listener_;
};

// RFC 5961 section 5 (MAY-12) judges SEG.ACK against the largest window the peer offered;
// an ACK in TIME-WAIT may still raise it, but only one newer than the last window update
// (SND.WL1 <= SEG.SEQ).
TEST(CompactTimeWaitTwins, Must12OldAcksAreJudgedByTheLargestWindowSoFar) {
  StackConfig c = test_config("twin", 7);
  Twins t(c);
  const std::uint32_t peer_isn = 5000;
  wire::TcpOptions syn_opt;
  syn_opt.has_mss = true;
  syn_opt.mss = 1460;
  syn_opt.has_wscale = true;
  syn_opt.wscale = 4;
  auto out = t.feed({{.seq = peer_isn, .flags = flag::SYN, .win = 100, .opt = syn_opt}});
  ASSERT_EQ(out.size(), 1u);
  const std::uint32_t isn = out[0].tcp->seq.raw();
  t.feed({{.seq = peer_isn + 1, .ack = isn + 1, .win = 100}});  // window 1600
  Handle h = *t.compacting().accept(t.listener());
  ASSERT_EQ(*t.whole().accept(t.listener()), h);
  t.app([&](Stack& s) { (void)s.close(h, t.now); });
  t.feed({{.seq = peer_isn + 1, .ack = isn + 2, .flags = flag::FIN | flag::ACK, .win = 100}});
  ASSERT_EQ(t.compacting().counters().time_wait_compacted, 1u);
  const std::uint32_t rcv_nxt = peer_isn + 2, snd_nxt = isn + 2;
  // 3000 back is older than any window offered: a challenge ACK.
  EXPECT_EQ(t.feed({{.seq = rcv_nxt, .ack = snd_nxt - 3000, .win = 100}}).size(), 1u);
  // Data reaching into the window from before the last window update (ignored: TIME-WAIT
  // reads nothing): its window of 1 MiB does not count.
  EXPECT_TRUE(t.feed({{.seq = rcv_nxt - 10, .ack = snd_nxt, .win = 65535, .data = std::string(20, 'x')}}).empty());
  EXPECT_EQ(t.feed({{.seq = rcv_nxt, .ack = snd_nxt - 3000, .win = 100}}).size(), 1u);
  // A new window update does.
  EXPECT_TRUE(t.feed({{.seq = rcv_nxt, .ack = snd_nxt, .win = 65535}}).empty());
  EXPECT_TRUE(t.feed({{.seq = rcv_nxt, .ack = snd_nxt - 3000, .win = 100}}).empty());
}

TEST(CompactTimeWaitTwins, RandomSegmentsGetTheAnswersAWholeConnectionGives) {
  std::uint64_t compacted = 0;
  for (std::uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
    auto chance = [&](std::uint32_t percent) { return pick(100) < percent; };

    TcpConfig tcp;
    tcp.recv_buffer = 1024u << pick(8);
    tcp.timestamps = chance(80);
    tcp.sack = chance(80);
    tcp.window_scaling = chance(80);
    tcp.receiver_sws = chance(50) ? ReceiverSws::rfc9293 : ReceiverSws::bsd;
    tcp.accept_free_space = chance(30);
    tcp.time_wait_rst = chance(50) ? TimeWaitRst::ignore : TimeWaitRst::close;
    tcp.rfc5961_rst = chance(80);
    tcp.rfc5961_syn = chance(80);
    tcp.drop_syn_fin = chance(20);
    tcp.require_timestamps = chance(80);
    tcp.challenge_ack_limit = static_cast<std::uint16_t>(1 + pick(10));
    tcp.msl = Duration{1000000LL * (1 + pick(30))};
    StackConfig c = test_config("twin", seed);
    c.tcp = tcp;
    Twins t(c);
    t.context = "seed " + std::to_string(seed);

    // The handshake, with what options the peer offers.
    const std::uint32_t peer_isn = rng();
    wire::TcpOptions syn_opt;
    syn_opt.has_mss = chance(90);
    syn_opt.mss = 1460;
    syn_opt.has_wscale = chance(70);
    syn_opt.wscale = static_cast<std::uint8_t>(pick(15));
    syn_opt.sack_permitted = chance(70);
    syn_opt.has_timestamps = chance(70);
    std::uint32_t ts = rng();
    syn_opt.ts_val = ts;
    // The peer's window starts small at times, so that a later one may be the largest yet
    // (MAY-12 compares SEG.ACK with it).
    const auto peer_win = static_cast<std::uint16_t>(chance(50) ? 1 + pick(2000) : 65535);
    auto out = t.feed({{.seq = peer_isn, .flags = flag::SYN, .win = peer_win, .opt = syn_opt}});
    ASSERT_EQ(out.size(), 1u) << t.context;
    const std::uint32_t isn = out[0].tcp->seq.raw();
    const bool ts_on = out[0].tcp->options.has_timestamps;
    const std::uint32_t snd_wscale =
        out[0].tcp->options.has_wscale && syn_opt.has_wscale ? std::min<std::uint32_t>(syn_opt.wscale, 14) : 0;
    auto with_ts = [&](Seg s) {
      s.win = peer_win;
      if (ts_on) {
        s.opt.has_timestamps = true;
        s.opt.ts_val = ++ts;
      }
      return s;
    };
    std::uint32_t seq = peer_isn + 1;
    const std::string data(pick(std::min<std::uint32_t>(3000, tcp.recv_buffer / 2)), 'd');  // within the window
    t.feed({with_ts({.seq = seq, .ack = isn + 1})});
    std::optional<Handle> ha, hb;
    t.app([&](Stack& s) { (&s == &t.compacting() ? ha : hb) = *s.accept(t.listener()); });
    ASSERT_TRUE(ha && hb) << t.context;
    auto handle = [&](Stack& s) { return &s == &t.compacting() ? *ha : *hb; };
    auto read_all = [&](Stack& s) {
      std::uint8_t buf[4096];
      while (true) {
        auto r = s.recv(handle(s), buf, t.now);
        if (!r || *r == 0) break;
      }
    };
    if (chance(30)) {  // a TOS of its own (MUST-48): the record keeps it
      t.app([&](Stack& s) {
        SocketOptions o;
        o.tos = 0x28;
        (void)s.set_options(handle(s), o, t.now);
      });
    }
    for (std::size_t off = 0; off < data.size(); off += 1000) {
      const std::string piece = data.substr(off, 1000);
      t.feed({with_ts({.seq = seq, .ack = isn + 1, .data = piece})});
      seq += static_cast<std::uint32_t>(piece.size());
    }
    // Three ways into TIME-WAIT: close, then the peer's FIN; half-close, the peer's FIN, read,
    // close (the window grows after the last ACK); simultaneous close (through CLOSING).
    const std::uint32_t way = pick(3);
    if (way == 0) {
      t.app(read_all);
      t.app([&](Stack& s) { (void)s.close(handle(s), t.now); });
      t.feed({with_ts({.seq = seq, .ack = isn + 2, .flags = flag::FIN | flag::ACK})});
    } else if (way == 1) {
      t.app([&](Stack& s) { (void)s.shutdown(handle(s), t.now); });
      t.feed({with_ts({.seq = seq, .ack = isn + 2, .flags = flag::FIN | flag::ACK})});
      t.advance(Duration{1000LL * pick(500)});
      t.app(read_all);
      t.app([&](Stack& s) { (void)s.close(handle(s), t.now); });
    } else {
      t.app(read_all);
      t.app([&](Stack& s) { (void)s.close(handle(s), t.now); });
      t.feed({with_ts({.seq = seq, .ack = isn + 1, .flags = flag::FIN | flag::ACK})});
      t.feed({with_ts({.seq = seq + 1, .ack = isn + 2})});
    }
    const std::uint32_t rcv_nxt = seq + 1;
    const std::uint32_t snd_nxt = isn + 2;
    ASSERT_EQ(t.compacting().counters().connections_by_state[kTw], 1u) << t.context << " way " << way;
    compacted += t.compacting().counters().time_wait_compacted;
    EXPECT_EQ(t.whole().counters().time_wait_compacted, 0u);

    // Then whatever the peer, or an attacker, may send.
    const std::uint8_t kFlags[] = {flag::ACK,
                                   flag::FIN | flag::ACK,
                                   flag::RST,
                                   flag::RST | flag::ACK,
                                   flag::SYN,
                                   flag::SYN | flag::ACK,
                                   flag::SYN | flag::FIN,
                                   flag::FIN,
                                   0,
                                   flag::ACK | flag::PSH,
                                   flag::URG | flag::ACK,
                                   flag::FIN | flag::SYN | flag::ACK};
    for (int step = 0; step < 60; ++step) {
      const std::uint32_t wait = pick(10);
      if (wait < 3) t.advance(Duration{1000LL * pick(1500)});
      else if (wait == 3) t.advance(Duration{1000000LL * pick(40)});
      std::vector<Seg> batch;
      const std::uint32_t n = chance(75) ? 1 : 2 + pick(2);
      for (std::uint32_t k = 0; k < n; ++k) {
        Seg s;
        s.flags = kFlags[pick(sizeof kFlags)];
        if (chance(35)) s.data = std::string(1 + pick(100), 'x');
        const std::uint32_t len = static_cast<std::uint32_t>(s.data.size()) + ((s.flags & flag::SYN) ? 1 : 0) +
                                  ((s.flags & flag::FIN) ? 1 : 0);
        switch (pick(8)) {
          case 0: s.seq = rcv_nxt; break;
          case 1: s.seq = rcv_nxt - len; break;  // ends at RCV.NXT: a retransmission
          case 2: s.seq = rcv_nxt - 1 - pick(3000); break;
          case 3: s.seq = rcv_nxt + 1 + pick(3000); break;
          case 4: s.seq = rcv_nxt + 60000 + pick(300000); break;
          case 5: s.seq = rcv_nxt - pick(2 + static_cast<std::uint32_t>(s.data.size())); break;
          case 6: s.seq = rcv_nxt + pick(2); break;
          default: s.seq = rng(); break;
        }
        switch (pick(8)) {
          case 0:
          case 1: s.ack = snd_nxt; break;
          case 2: s.ack = snd_nxt - 1 - pick(3000); break;
          case 3: s.ack = snd_nxt + 1 + pick(10); break;
          case 4: s.ack = snd_nxt - 65536 - pick(1000000); break;
          case 5: s.ack = snd_nxt - pick((peer_win * 4u + 1) << snd_wscale); break;
          case 6: s.ack = snd_nxt - pick(2); break;
          default: s.ack = rng(); break;
        }
        s.win = chance(20) ? 0 : chance(50) ? static_cast<std::uint16_t>(pick(peer_win * 4u + 1)) : static_cast<std::uint16_t>(rng());
        if (ts_on ? chance(85) : chance(10)) {
          s.opt.has_timestamps = true;
          const std::uint32_t how = pick(5);
          s.opt.ts_val = how == 0 ? ts : how == 1 ? (ts += 1 + pick(1000)) : how == 2 ? ts - 1 - pick(1000) : how == 3 ? ts + 1 : static_cast<std::uint32_t>(rng());
          s.opt.ts_ecr = rng();
        }
        if (chance(15)) {
          s.opt.sack_count = static_cast<std::uint8_t>(1 + pick(2));
          for (std::uint8_t b = 0; b < s.opt.sack_count; ++b) {
            const std::uint32_t left = snd_nxt - 2000 + pick(4000);
            s.opt.sack[b] = {wire::Seq{left}, wire::Seq{left + 1 + pick(2000)}};
          }
        }
        batch.push_back(s);
      }
      t.feed(batch);
      if (::testing::Test::HasFailure()) return;
    }
    // Whatever is left runs out: both end with nothing.
    for (int i = 0; i < 5; ++i) t.advance(200s);
    t.app([&](Stack& s) { (void)s.close(t.listener(), t.now); });
    EXPECT_EQ(t.compacting().connection_count(), t.whole().connection_count()) << t.context;
    EXPECT_EQ(t.compacting().timer_count(), 0u) << t.context;
    if (::testing::Test::HasFailure()) return;
  }
  // Most runs went through a compact record (the rest kept a whole one: see compactable()).
  EXPECT_GT(compacted, 250u);
}

}  // namespace
}  // namespace synfin::test

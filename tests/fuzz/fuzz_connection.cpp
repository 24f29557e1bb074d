// Fuzz target: one connection, brought into a chosen state by real exchanges, then fed a
// sequence of segments, timer expiries and user calls decoded from the input. Every segment it
// emits goes through the wire writer and parser; invariants are checked after every step and a
// violation traps.
//
// Input: byte 0 chooses the starting state (low 4 bits), whether data was exchanged first
// (bit 4) and a configuration (bits 5..7); byte 1 more configuration. The rest is a list of at
// most kMaxOps operations: segments, repeats, bursts, time, user calls (the op_* functions).
// Set SYNFIN_FUZZ_TRACE=1 to print each step; SYNFIN_FUZZ_TOLERATE, see kKnownBugs.
//
// Data checks: the peer's payload byte at sequence number s is always peer_byte(s), and the
// application's byte at stream offset k is always app_byte(k). So every byte the application
// reads and every byte the connection emits can be checked where it stands, whatever
// sequence numbers the fuzzer chose.
#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "synfin/config.hpp"
#include "tcp/connection.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

using namespace synfin;
using namespace std::chrono_literals;
using tcp::Connection;
using wire::Seq;
namespace flag = wire::tcp_flag;

namespace {

constexpr std::uint32_t kLocalAddr = 0x0a000001;
constexpr std::uint32_t kRemoteAddr = 0x0a000002;
constexpr std::uint16_t kLocalPort = 4000;
constexpr std::uint16_t kRemotePort = 80;
constexpr std::size_t kMaxOps = 64;
constexpr Duration kMaxVirtualTime = 6h;  // beyond keep-alive's 2 h idle plus its probes
constexpr int kMaxTimerFiringsPerAdvance = 2000;

bool g_trace = false;
// Known bugs in src/tcp, reported and not yet fixed. The target steers clear of them (each
// name marks the place) so that fuzzing keeps looking for new ones. Remove a name when its bug
// is fixed; SYNFIN_FUZZ_TOLERATE overrides the list ("none": check everything).
// Bugs the fuzzer found and that are not fixed yet (each has a reproducer in regressions/).
constexpr const char* kKnownBugs = "";
const char* g_tolerate = kKnownBugs;
bool tolerate(const char* name) { return std::strstr(g_tolerate, name) != nullptr; }

void trace(const char* fmt, ...) {
  if (!g_trace) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
}

[[noreturn]] void violated(const char* what, int line) {
  std::fprintf(stderr, "fuzz_connection: invariant violated at line %d: %s\n", line, what);
  __builtin_trap();
}
#define CHECK(cond)                             \
  do {                                          \
    if (!(cond)) violated(#cond, __LINE__);     \
  } while (0)

std::uint8_t peer_byte(Seq s) { return static_cast<std::uint8_t>((s.raw() * 0x9e3779b1u) >> 24); }
std::uint8_t app_byte(std::uint64_t k) {
  return static_cast<std::uint8_t>((static_cast<std::uint32_t>(k) * 0x85ebca6bu + 0x1234u) >> 23);
}

// Reads the fuzzer's bytes; zeros once they run out.
class Input {
 public:
  Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return i_ >= n_; }
  std::uint8_t u8() { return i_ < n_ ? d_[i_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t i_ = 0;
};

bool legal_transition(TcpState from, TcpState to) {
  using S = TcpState;
  if (to == S::closed) return from != S::closed;
  switch (from) {
    case S::closed: return to == S::listen || to == S::syn_sent;
    case S::listen: return to == S::syn_received || to == S::syn_sent;
    case S::syn_sent: return to == S::syn_received || to == S::established;
    case S::syn_received:
      return to == S::established || to == S::fin_wait_1 || to == S::listen || to == S::close_wait;
    case S::established: return to == S::fin_wait_1 || to == S::close_wait;
    case S::fin_wait_1: return to == S::fin_wait_2 || to == S::closing || to == S::time_wait;
    case S::fin_wait_2: return to == S::time_wait;
    case S::close_wait: return to == S::last_ack;
    case S::closing: return to == S::time_wait;
    case S::last_ack: return false;
    case S::time_wait: return false;
  }
  return false;
}

struct Fuzz final : tcp::ConnectionHost {
  TcpConfig cfg;
  tcp::IsnGenerator isn{std::array<std::uint8_t, 16>{7, 1, 7, 1, 7, 1, 7, 1, 2, 3, 5, 8, 13, 21, 34, 55}};
  Connection conn;
  Instant now = at(1000s);
  Instant start = at(1000s);
  Seq peer_iss;

  // Our send stream: bytes the application handed over since the current ISS was chosen.
  std::uint64_t app_sent = 0;
  std::uint32_t app_offering = 0;  // bytes offered by a send() that has not returned yet
  // The peer's stream in the current incarnation (since the connection took its IRS).
  std::uint64_t app_received = 0;
  std::uint64_t peer_max_end = 0;  // highest stream offset + 1 the peer has sent
  bool have_irs = false;
  bool opened_before = false;  // the connection has left CLOSED at least once
  bool user_closed = false;    // shutdown_write, close or abort since the last open
  Seq peer_next;  // where the peer's next segment would start (the fuzzer's anchor)

  // The last segment op_segment injected, for op_repeat.
  struct Injected {
    std::uint8_t flags;
    Seq seq, ack;
    std::uint16_t window;
    std::uint32_t len;
    std::uint16_t urgent;
    wire::TcpOptions opts;
    std::vector<std::uint8_t> raw;
    bool use_raw;
  };
  std::optional<Injected> last;

  // What the connection emitted most recently (for anchors) and in total.
  std::size_t emitted = 0;
  std::uint8_t last_flags = 0;
  Seq last_seq, last_ack;

  explicit Fuzz(const TcpConfig& c, Seq piss)
      : cfg(c),
        conn(*this, cfg, tcp::FourTuple{kLocalAddr, kRemoteAddr, kLocalPort, kRemotePort}),
        peer_iss(piss),
        peer_next(piss) {}

  // --- ConnectionHost ---------------------------------------------------------------------

  void emit(Connection& c, const tcp::OutSegment& seg) override {
    std::vector<std::uint8_t> bytes(wire::kTcpMaxHeader + seg.payload_size());
    const std::size_t hl = wire::write_tcp_header(bytes, seg.header, seg.options, cfg.option_layout);
    std::size_t off = hl;
    for (auto piece : seg.payload) {
      if (!piece.empty()) std::memcpy(bytes.data() + off, piece.data(), piece.size());
      off += piece.size();
    }
    bytes.resize(off);
    wire::finish_tcp_checksum_v4(bytes, kLocalAddr, kRemoteAddr);
    const wire::PseudoHeaderV4 ph{kLocalAddr, kRemoteAddr};
    auto parsed = wire::parse_tcp(bytes, &ph);
    CHECK(parsed.ok());
    const wire::TcpSegment& s = *parsed;
    trace("  < %s seq %u ack %u win %u len %zu%s\n", wire::flags_to_string(s.flags).c_str(),
          s.seq.since(c.iss()), s.ack.since(peer_iss), s.window, s.payload.size(),
          seg.retransmission ? " (rtx)" : "");
    CHECK(!(s.options.has_mss && !s.syn()));  // MUST-65
    CHECK(s.src_port == kLocalPort);
    CHECK(s.dst_port == kRemotePort);  // every segment goes back to the only peer
    CHECK(s.payload.size() == seg.payload_size());
    if (s.rst()) CHECK(s.payload.empty());
    // The ISS is the SYN's sequence number: no data and no FIN is ever sent there. Known bug
    // "fin-at-iss": in FIN-WAIT-1 entered from SYN-RECEIVED with the SYN unacknowledged, a
    // path MTU drop or three duplicate ACKs resend "data" from SND.UNA = ISS, and out goes a
    // FIN at the ISS (reading the send buffer at offset -1).
    const bool at_iss = !s.syn() && !s.rst() && (s.fin() || !s.payload.empty()) && s.seq == c.iss();
    if (at_iss && tolerate("fin-at-iss")) return;
    CHECK(!at_iss);
    if (!s.payload.empty()) {
      CHECK(!s.syn() && !s.rst());
      CHECK(s.payload.size() <= c.snd_mss());
      // Each byte is the application's byte at its stream offset, and was actually sent.
      const std::uint32_t offset = s.seq.since(c.iss() + 1);
      CHECK(offset < (1u << 31));
      CHECK(offset + s.payload.size() <= app_sent + app_offering);
      for (std::size_t i = 0; i < s.payload.size(); ++i) CHECK(s.payload[i] == app_byte(offset + i));
    }
    if (s.fin() && !s.rst()) {
      CHECK(app_offering == 0);  // no FIN while the application is still handing over data
      // A FIN follows the last byte the application sent, and nothing else.
      CHECK(s.seq + static_cast<std::uint32_t>(s.payload.size()) == c.iss() + 1 + static_cast<std::uint32_t>(app_sent));
    }
    if (!s.rst()) {
      // Nothing beyond the application's data and one FIN is ever sent.
      const std::uint64_t end = std::uint64_t{s.seq.since(c.iss())} + s.payload.size() + (s.fin() ? 1 : 0);
      CHECK(s.seq.since(c.iss()) < (1u << 31));
      CHECK(end <= app_sent + app_offering + 2);
      // Nothing is acknowledged that the peer did not send: data, and at most a FIN after it.
      if (s.has(flag::ACK) && have_irs) {
        const std::uint32_t acked = s.ack.since(c.irs() + 1);
        CHECK(acked <= peer_end_so_far() + 1);
      }
    }
    ++emitted;
    last_flags = s.flags;
    last_seq = s.seq;
    last_ack = s.ack;
  }

  void deliver(Connection&, tcp::Event e) override {
    trace("  event %s %s\n", std::string(tcp::to_string(e.kind)).c_str(), std::string(to_string(e.error)).c_str());
  }

  Seq choose_isn(const tcp::FourTuple& t, Instant when) override {
    app_sent = 0;  // a new incarnation: the send stream starts again
    return isn.isn(t, when);
  }

  void state_changed(Connection& c, TcpState from, TcpState to, StateCause) override {
    trace("  state %s -> %s\n", std::string(to_string(from)).c_str(), std::string(to_string(to)).c_str());
    // Known bug "finwait1-listen": a passive connection closed in SYN-RECEIVED returns to
    // LISTEN when its SYN-ACK retransmissions give up.
    if (from == TcpState::closed) opened_before = true;
    CHECK(legal_transition(from, to) ||
          (tolerate("finwait1-listen") && from == TcpState::fin_wait_1 && to == TcpState::listen));
    if ((from == TcpState::listen || from == TcpState::syn_sent) &&
        (to == TcpState::syn_received || to == TcpState::established)) {
      // The connection took the peer's ISN: a new receive stream.
      have_irs = true;
      app_received = 0;
      peer_max_end = 0;
      (void)c;
    }
    if (to == TcpState::listen) have_irs = false;
  }

  // --- the peer -----------------------------------------------------------------------------

  // The payload of the segment being processed right now, which the connection may already
  // acknowledge from inside on_segment.
  Seq pending_seq;
  std::uint32_t pending_len = 0;

  std::uint64_t peer_end_so_far() const {
    std::uint64_t end = peer_max_end;
    if (pending_len > 0) {
      const std::uint32_t rel_end = (pending_seq + pending_len).since(conn.irs() + 1);
      if (rel_end < (1u << 30)) end = std::max<std::uint64_t>(end, rel_end);
    }
    return end;
  }

  // Builds, serializes and parses one segment from the peer, and hands it to the connection.
  // `raw_options` replaces `opts` when given.
  void inject(std::uint8_t flags, Seq seq, Seq ack, std::uint16_t window, std::uint32_t len,
              std::uint16_t urgent, const wire::TcpOptions& opts,
              const std::vector<std::uint8_t>* raw_options = nullptr) {
    wire::TcpHeaderFields f;
    f.src_port = kRemotePort;
    f.dst_port = kLocalPort;
    f.seq = seq;
    f.ack = ack;
    f.flags = flags;
    f.window = window;
    f.urgent = urgent;
    std::vector<std::uint8_t> bytes(wire::kTcpMaxHeader + len);
    std::size_t hl;
    if (raw_options != nullptr) {
      hl = wire::write_tcp_header(bytes, f, wire::TcpOptions{}, wire::kDefaultLayout);
      const std::size_t n = std::min<std::size_t>(raw_options->size(), wire::kTcpMaxOptions);
      const std::size_t padded = (n + 3) & ~std::size_t{3};
      std::memset(bytes.data() + hl, 0, padded);
      if (n > 0) std::memcpy(bytes.data() + hl, raw_options->data(), n);
      hl += padded;
      bytes[12] = static_cast<std::uint8_t>((hl / 4) << 4);
    } else {
      hl = wire::write_tcp_header(bytes, f, opts, wire::kDefaultLayout);
    }
    const Seq data_seq = seq + ((flags & flag::SYN) ? 1u : 0u);
    for (std::uint32_t i = 0; i < len; ++i) bytes[hl + i] = peer_byte(data_seq + i);
    bytes.resize(hl + len);
    wire::finish_tcp_checksum_v4(bytes, kRemoteAddr, kLocalAddr);
    const wire::PseudoHeaderV4 ph{kRemoteAddr, kLocalAddr};
    auto seg = wire::parse_tcp(bytes, &ph);
    trace("> %s seq %u ack %u win %u len %u urg %u%s\n", wire::flags_to_string(flags).c_str(),
          seq.since(peer_iss), ack.since(conn.iss()), window, len, urgent,
          seg.ok() ? "" : " (malformed: dropped by the wire layer)");
    if (!seg.ok()) return;  // the stack would count and drop it before any connection
    pending_seq = data_seq;
    pending_len = len;
    conn.on_segment(*seg, now);
    pending_len = 0;
    const Seq end = seq + seg->seg_len();
    if (end > peer_next) peer_next = end;
    if (have_irs && len > 0) {
      // The stream offset just past this payload (a payload may begin before the stream).
      const std::uint32_t rel_end = (data_seq + len).since(conn.irs() + 1);
      if (rel_end < (1u << 30)) peer_max_end = std::max<std::uint64_t>(peer_max_end, rel_end);
    }
    check();
  }

  void peer(std::uint8_t flags, std::uint32_t rel_seq, std::uint32_t rel_ack, std::uint32_t len = 0,
            const wire::TcpOptions& o = {}) {
    inject(flags, peer_iss + rel_seq, (flags & flag::ACK) ? conn.iss() + rel_ack : Seq{0}, 65535,
           len, 0, o);
  }

  // --- the application ----------------------------------------------------------------------

  void app_send(std::uint32_t n, bool urgent) {
    std::vector<std::uint8_t> data(n);
    for (std::uint32_t i = 0; i < n; ++i) data[i] = app_byte(app_sent + i);
    app_offering = n;
    auto r = urgent ? conn.send_urgent(data, now) : conn.send(data, now);
    app_offering = 0;
    trace("app %s %u -> %s\n", urgent ? "send_urgent" : "send", n,
          r.ok() ? std::to_string(*r).c_str() : std::string(to_string(r.error())).c_str());
    if (r.ok()) {
      CHECK(*r <= n);
      app_sent += *r;
    } else {
      // "Closing" only ever answers an application that closed its sending side itself.
      CHECK(r.error() != Error::closing || user_closed);
    }
    check();
  }

  void app_receive(std::uint32_t n) {
    std::vector<std::uint8_t> out(n);
    auto r = conn.receive(out, now);
    trace("app receive %u -> %s\n", n,
          r.ok() ? std::to_string(*r).c_str() : std::string(to_string(r.error())).c_str());
    if (r.ok()) {
      CHECK(*r <= n);
      CHECK(*r == 0 || have_irs);
      for (std::uint32_t i = 0; i < *r; ++i) {
        CHECK(out[i] == peer_byte(conn.irs() + 1 + static_cast<std::uint32_t>(app_received + i)));
      }
      app_received += *r;
    }
    check();
  }

  // --- time -------------------------------------------------------------------------------

  void advance(Duration d) {
    const Instant until = std::min(now + d, start + kMaxVirtualTime);
    int firings = 0;
    while (conn.next_deadline() <= until) {
      now = std::max(now, conn.next_deadline());
      trace("timer at +%lld ms\n", static_cast<long long>((now - start).count() / 1000));
      conn.on_timer(now);
      // Whatever was due has been handled: a deadline still at or before now would spin.
      CHECK(conn.next_deadline() > now);
      check();
      // Endless retransmission (user timeout "never") and short keep-alive intervals are
      // legitimate: stop early rather than spend the fuzzer's time on them.
      if (++firings >= kMaxTimerFiringsPerAdvance) return;
    }
    if (until > now) now = until;
    check();
  }

  // --- invariants ---------------------------------------------------------------------------

  bool stalled_ = false;  // a tolerated "fin-zero-window" stall may have happened in this run

  void check() {
    const Instant deadline = conn.next_deadline();
    if (deadline != kNever) {
      trace("    [now +%lld ms, next deadline +%lld ms]\n", static_cast<long long>((now - start).count() / 1000),
            static_cast<long long>((deadline - start).count() / 1000));
    }
    const TcpState st = conn.state();
    const tcp::ConnectionInfo i = conn.info();
    // Known bug "fin-zero-window": with only a FIN outstanding and the peer's window at zero,
    // the retransmission timeout turns to persist, finds no data to probe with and arms no
    // timer: the FIN is never sent again (not even when the window reopens) and R2 never
    // ends the connection. A later output then arms a deadline clamped to the R2 deadline
    // long past. Once it has happened, the rest of the run is spared both checks.
    if (tolerate("fin-zero-window") && i.snd_wnd == 0 && i.send_queued == 0 && i.unacked > 0) {
      stalled_ = true;
    }
    if (!stalled_) CHECK(deadline == kNever || deadline >= now);
    if (st == TcpState::closed) CHECK(deadline == kNever);
    // Anything outstanding is timed: retransmission or persist, and R2 in the end (MUST-20).
    if (is_synchronized(st) && i.unacked > 0 && !stalled_) CHECK(deadline != kNever);
    if (is_synchronized(st)) {
      CHECK(i.unacked <= i.send_queued + 2);  // data plus SYN and FIN
      // SND.UNA <= SND.NXT <= the highest sequence number sent.
      CHECK(wire::in_range(conn.snd_nxt(), conn.snd_una(), conn.snd_una() + i.unacked));
    }
    CHECK(app_received <= peer_max_end);
    // Within the buffers' current capacities (auto-tuning may grow them past the config).
    CHECK(i.recv_queued <= i.recv_buffer);
    CHECK(i.send_queued <= i.send_buffer);
  }
};

TcpConfig make_config(std::uint8_t a, std::uint8_t b) {
  TcpConfig c;
  if (a & 0x20) {  // small buffers and segments: windows close, queues fill
    c.send_buffer = 3000;
    c.recv_buffer = 2500;
    c.mtu = 576;
  }
  c.delayed_ack = (a & 0x40) ? Duration{40ms} : Duration::zero();
  if (b & 0x01) {  // short limits, so that giving up is reachable in a few steps
    c.r2_timeout = 20s;
    c.syn_r2_timeout = 30s;
    c.syn_received_timeout = 15s;
    c.msl = 2s;
    c.keepalive_idle = 30s;
    c.keepalive_interval = 5s;
    c.keepalive_probes = 2;
  }
  if (b & 0x02) c.keepalive = true;
  if (b & 0x04) c.no_delay = true;
  if (b & 0x08) c.time_wait_rst = TimeWaitRst::close;
  if (b & 0x10) c.accept_syn_data = false;
  if (b & 0x20) c.challenge_ack_limit = 2;
  if (b & 0x40) c.initial_window_segments = 1;
  if (b & 0x80) c.accept_syn_data_in_syn_sent = false;
  return c;
}

enum Start : std::uint8_t {
  kClosed, kListen, kSynSent, kSynReceivedPassive, kSynReceivedActive, kEstablishedActive,
  kEstablishedPassive, kFinWait1, kFinWait2, kCloseWait, kLastAck, kClosing, kTimeWait,
  kStartCount
};

// Brings the connection into `start` through the exchanges a real peer would make.
void set_up(Fuzz& z, Start start, bool exchange_data) {
  Connection& c = z.conn;
  wire::TcpOptions mss;
  mss.has_mss = true;
  mss.mss = 1460;
  switch (start) {
    case kClosed:
      return;
    case kListen:
      CHECK(c.open_passive() == Error::none);
      return;
    case kSynSent:
      CHECK(c.open_active(z.now) == Error::none);
      return;
    case kSynReceivedPassive:
      CHECK(c.open_passive() == Error::none);
      z.peer(flag::SYN, 0, 0, 0, mss);
      CHECK(c.state() == TcpState::syn_received);
      return;
    case kSynReceivedActive:
      CHECK(c.open_active(z.now) == Error::none);
      z.peer(flag::SYN, 0, 0, 0, mss);
      CHECK(c.state() == TcpState::syn_received);
      return;
    default:
      break;
  }
  // Everything else starts from an established connection, opened from either side.
  if (start == kEstablishedPassive) {
    CHECK(c.open_passive() == Error::none);
    z.peer(flag::SYN, 0, 0, 0, mss);
    z.peer(flag::ACK, 1, 1);
  } else {
    CHECK(c.open_active(z.now) == Error::none);
    z.peer(flag::SYN | flag::ACK, 0, 1, 0, mss);
  }
  CHECK(c.state() == TcpState::established);
  std::uint32_t peer_sent = 0;
  if (exchange_data) {
    z.app_send(100, false);
    z.peer(flag::ACK | flag::PSH, 1, 101, 50);
    peer_sent = 50;
    z.advance(1ms);
    z.app_receive(50);
    CHECK(z.app_received == 50);
  }
  const std::uint32_t ours = 1 + static_cast<std::uint32_t>(z.app_sent);
  const std::uint32_t theirs = 1 + peer_sent;
  z.user_closed = start == kFinWait1 || start == kFinWait2 || start == kLastAck ||
                  start == kClosing || start == kTimeWait;
  switch (start) {
    case kFinWait1:
      CHECK(c.shutdown_write(z.now) == Error::none);
      CHECK(c.state() == TcpState::fin_wait_1);
      break;
    case kFinWait2:
      CHECK(c.shutdown_write(z.now) == Error::none);
      z.peer(flag::ACK, theirs, ours + 1);
      CHECK(c.state() == TcpState::fin_wait_2);
      break;
    case kCloseWait:
      z.peer(flag::FIN | flag::ACK, theirs, ours);
      CHECK(c.state() == TcpState::close_wait);
      break;
    case kLastAck:
      z.peer(flag::FIN | flag::ACK, theirs, ours);
      CHECK(c.shutdown_write(z.now) == Error::none);
      CHECK(c.state() == TcpState::last_ack);
      break;
    case kClosing:
      CHECK(c.shutdown_write(z.now) == Error::none);
      z.peer(flag::FIN | flag::ACK, theirs, ours);  // crosses our FIN: acknowledges data only
      CHECK(c.state() == TcpState::closing);
      break;
    case kTimeWait:
      CHECK(c.shutdown_write(z.now) == Error::none);
      z.peer(flag::ACK, theirs, ours + 1);
      z.peer(flag::FIN | flag::ACK, theirs, ours + 1);
      CHECK(c.state() == TcpState::time_wait);
      break;
    default:
      break;
  }
}

// --- operations ------------------------------------------------------------------------------

constexpr std::uint8_t kCommonFlags[] = {
    flag::ACK,
    flag::ACK | flag::PSH,
    flag::ACK,
    flag::SYN,
    flag::SYN | flag::ACK,
    flag::FIN | flag::ACK,
    flag::RST,
    flag::RST | flag::ACK,
    flag::ACK | flag::URG,
    flag::FIN | flag::PSH | flag::ACK,
    flag::FIN,
    0,
    flag::SYN | flag::FIN,
    flag::ACK | flag::PSH,
    flag::ACK | flag::ECE | flag::CWR,
    flag::SYN | flag::RST,
};

std::uint32_t pick_delta(Input& in, std::uint8_t sel, std::uint32_t len) {
  switch (sel & 7) {
    case 0: return 0;
    case 1: return 1;
    case 2: return static_cast<std::uint32_t>(-1);
    case 3: return len;
    case 4: return static_cast<std::uint32_t>(-static_cast<std::int32_t>(len ? len : 1));
    case 5: return static_cast<std::uint32_t>(static_cast<std::int8_t>(in.u8()));
    case 6: return static_cast<std::uint32_t>(static_cast<std::int16_t>(in.u16()));
    default: return in.u32();
  }
}

void op_segment(Fuzz& z, Input& in) {
  Connection& c = z.conn;
  const std::uint8_t fsel = in.u8();
  const std::uint8_t flags = (fsel & 0x80) ? in.u8() : kCommonFlags[fsel % std::size(kCommonFlags)];

  const std::uint8_t lsel = in.u8();
  std::uint32_t len;
  if (lsel < 0xc0) {
    len = lsel % 48;
  } else {
    constexpr std::uint32_t kSizes[] = {0, 1, 535, 536, 1459, 1460, 2500, 3000};
    len = kSizes[lsel & 7];
  }

  const std::uint32_t wnd = c.rcv_wnd();
  const std::uint8_t ssel = in.u8();
  Seq seq_anchor;
  switch (ssel >> 5) {
    case 0: case 1: seq_anchor = c.rcv_nxt(); break;
    case 2: seq_anchor = c.rcv_nxt() + wnd; break;  // the right edge of the window
    case 3: seq_anchor = z.peer_next; break;
    case 4: seq_anchor = c.irs(); break;
    case 5: seq_anchor = z.peer_iss; break;
    case 6: seq_anchor = c.rcv_nxt() + wnd - len; break;  // ends exactly at the right edge
    default: seq_anchor = Seq{in.u32()}; break;
  }
  const Seq seq = seq_anchor + pick_delta(in, ssel, len);

  const std::uint8_t asel = in.u8();
  const std::uint32_t unacked = c.info().unacked;
  Seq ack_anchor;
  switch (asel >> 5) {
    case 0: case 1: ack_anchor = c.snd_una() + unacked; break;  // the highest we sent
    case 2: ack_anchor = c.snd_una(); break;
    case 3: ack_anchor = c.snd_nxt(); break;
    case 4: ack_anchor = c.iss(); break;
    case 5: ack_anchor = c.iss() + 1; break;
    case 6: ack_anchor = z.last_seq; break;
    default: ack_anchor = Seq{in.u32()}; break;
  }
  const Seq ack = ack_anchor + pick_delta(in, asel, 1);

  const std::uint8_t wsel = in.u8();
  constexpr std::uint16_t kWindows[] = {65535, 65535, 0, 1, 536, 1000, 4096, 20000};
  const std::uint16_t window = (wsel & 0x80) ? static_cast<std::uint16_t>(wsel << 8 | in.u8())
                                             : kWindows[wsel & 7];
  const std::uint16_t urgent = (flags & flag::URG) ? in.u16() : 0;

  const std::uint8_t osel = in.u8();
  wire::TcpOptions o;
  std::vector<std::uint8_t> raw;
  switch (osel & 3) {
    case 0: break;
    case 1:
      o.has_mss = true;
      o.mss = in.u16();
      if (osel & 4) {
        o.has_wscale = true;
        o.wscale = in.u8();
      }
      o.sack_permitted = (osel & 8) != 0;
      break;
    case 2:
      o.has_timestamps = true;
      o.ts_val = in.u32();
      o.ts_ecr = in.u32();
      o.sack_count = static_cast<std::uint8_t>((osel >> 2) % 4);
      for (std::size_t k = 0; k < o.sack_count; ++k) {
        const Seq l = c.snd_una() + static_cast<std::uint32_t>(in.u8()) * 100u;
        o.sack[k] = {l, l + static_cast<std::uint32_t>(in.u8()) * 10u};
      }
      break;
    default: {
      const std::size_t n = in.u8() % (wire::kTcpMaxOptions + 1);
      for (std::size_t k = 0; k < n; ++k) raw.push_back(in.u8());
      break;
    }
  }
  z.inject(flags, seq, ack, window, len, urgent, o, (osel & 3) == 3 ? &raw : nullptr);
  z.last = Fuzz::Injected{flags, seq, ack, window, len, urgent, o, raw, (osel & 3) == 3};
}

// The last segment again, 1 to 4 times: duplicates, and duplicate ACKs for fast retransmit.
void op_repeat(Fuzz& z, Input& in) {
  const int n = in.u8() % 4 + 1;
  if (!z.last) return;
  const Fuzz::Injected l = *z.last;
  for (int i = 0; i < n; ++i) {
    z.inject(l.flags, l.seq, l.ack, l.window, l.len, l.urgent, l.opts, l.use_raw ? &l.raw : nullptr);
  }
}

// A burst of ACK segments of equal size with holes between them, from RCV.NXT on: fills the
// out-of-order queue up to its range limit, then (optionally) fills the holes in reverse.
void op_burst(Fuzz& z, Input& in) {
  Connection& c = z.conn;
  const std::uint8_t b = in.u8();
  const std::uint32_t count = b % 40 + 1;
  const std::uint32_t size = (in.u8() % 16) + 1;
  const bool fill = (b & 0x80) != 0;
  const Seq base = c.rcv_nxt();
  const Seq ack = c.snd_una();
  for (std::uint32_t i = 0; i < count; ++i) {
    z.inject(flag::ACK, base + (2 * i + 1) * size, ack, 65535, size, 0, {});
  }
  if (!fill) return;
  for (std::uint32_t i = count; i-- > 0;) z.inject(flag::ACK, base + 2 * i * size, ack, 65535, size, 0, {});
}

void op_time(Fuzz& z, Input& in) {
  const std::uint8_t t = in.u8();
  switch (t & 7) {
    case 0: {  // exactly to the next deadline
      const Instant d = z.conn.next_deadline();
      if (d != kNever) z.advance(std::max(d - z.now, Duration::zero()));
      break;
    }
    case 1: z.advance(Duration{std::int64_t{t >> 3} * 1000}); break;          // 0..31 ms
    case 2: z.advance(Duration{std::int64_t{t >> 3} * 50'000}); break;        // up to 1.5 s
    case 3: z.advance(Duration{std::int64_t{t >> 3} * 1'000'000}); break;     // up to 31 s
    case 4: z.advance(Duration{std::int64_t{t >> 3} * 20'000'000}); break;    // up to 10 min
    case 5: z.advance(200ms); break;
    case 6: z.advance(Duration{std::int64_t{in.u16()} * 1000}); break;       // up to 65 s
    default: z.advance(2h + 15min); break;  // keep-alive territory
  }
}

void op_user(Fuzz& z, Input& in, std::uint8_t which) {
  Connection& c = z.conn;
  switch (which) {
    case 0: z.app_send(in.u8() % 64 + 1, false); break;
    case 1: z.app_send(static_cast<std::uint32_t>(in.u8()) * 24 + 1, false); break;  // up to 6 KB
    case 2: z.app_receive(in.u8() % 64); break;
    case 3: z.app_receive(4096); break;
    case 4:
      z.user_closed = true;
      trace("app shutdown_write -> %s\n", std::string(to_string(c.shutdown_write(z.now))).c_str());
      break;
    case 5:
      z.user_closed = true;
      trace("app close -> %s\n", std::string(to_string(c.close(z.now))).c_str());
      break;
    case 6:
      z.user_closed = true;
      trace("app abort\n");
      c.abort(z.now);
      break;
    case 7: trace("app set_no_delay\n"); c.set_no_delay(in.u8() & 1, z.now); break;
    case 8: {
      const bool on = in.u8() & 1;
      // Known bug "keepalive-unsync": the keep-alive timer is armed in CLOSED and LISTEN.
      if (tolerate("keepalive-unsync") && !is_synchronized(c.state())) break;
      trace("app set_keepalive\n");
      c.set_keepalive(on, z.now);
      break;
    }
    case 9: {
      const std::uint8_t p = in.u8();
      if (tolerate("keepalive-unsync") && !is_synchronized(c.state())) break;
      trace("app set_keepalive_params\n");
      c.set_keepalive_params(Duration{std::int64_t{p & 0x0f} * 5'000'000}, Duration{std::int64_t{p >> 4} * 1'000'000},
                             static_cast<std::uint8_t>(p & 3), z.now);
      break;
    }
    case 10:
    case 11:
      // Known bug "reopen-stale": a connection opened again after CLOSED keeps state of the
      // previous incarnation (a queued FIN that makes send() fail, unread data that ends up
      // in front of the new stream, the RTO, congestion state).
      if (tolerate("reopen-stale") && z.opened_before && c.state() == TcpState::closed) break;
      {
        const Error e = which == 10 ? c.open_active(z.now) : c.open_passive();
        trace("app %s -> %s\n", which == 10 ? "open_active" : "open_passive", std::string(to_string(e)).c_str());
        if (e == Error::none) z.user_closed = false;
      }
      break;
    case 12: z.app_send(in.u8() % 16 + 1, true); break;
    case 13: {
      const std::uint16_t mtu = static_cast<std::uint16_t>(68 + in.u8() * 6);
      trace("path_mtu_changed %u\n", mtu);
      c.path_mtu_changed(mtu, z.now);
      break;
    }
    case 14: trace("hard_error\n"); c.hard_error(Error::unreachable, z.now); break;
    default: {
      const std::uint8_t u = in.u8();
      trace("app set_user_timeout\n");
      c.set_user_timeout(u == 0 ? tcp::ConnectionOptions::kNoTimeout : Duration{std::int64_t{u} * 1'000'000});
      break;
    }
  }
  z.check();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_trace = std::getenv("SYNFIN_FUZZ_TRACE") != nullptr;
  if (const char* t = std::getenv("SYNFIN_FUZZ_TOLERATE")) g_tolerate = t;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t a = in.u8();
  const std::uint8_t b = in.u8();
  const TcpConfig cfg = make_config(a, b);
  const Seq peer_iss{(a & 0x80) ? 0xfffffff0u : 1000000u};  // near the wrap, or not
  Fuzz z(cfg, peer_iss);
  const auto start = static_cast<Start>((a & 0x0f) % kStartCount);
  trace("start %d, data %d, config %02x %02x\n", start, (a >> 4) & 1, a, b);
  set_up(z, start, (a & 0x10) != 0);
  z.check();

  for (std::size_t op = 0; op < kMaxOps && !in.empty(); ++op) {
    const std::uint8_t o = in.u8();
    if (o < 112) {
      op_segment(z, in);
    } else if (o < 120) {
      op_repeat(z, in);
    } else if (o < 128) {
      op_burst(z, in);
    } else if (o < 176) {
      op_time(z, in);
    } else {
      op_user(z, in, static_cast<std::uint8_t>(o % 16));
    }
  }
  // Let every timer run out: the connection must end up quiet, closed or waiting.
  z.advance(kMaxVirtualTime);
  return 0;
}

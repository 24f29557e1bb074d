// A connection in TIME-WAIT, reduced to what TIME-WAIT still needs (DESIGN principle 6).
//
// Once both FINs are acknowledged a connection only waits out 2 MSL (MUST-13): it sends no
// data and reads none, it only answers what the peer may still send. A Connection keeps
// its buffers, its congestion state and its timers for that; a TimeWaitRecord keeps the
// 4-tuple, the two sequence numbers, the window it announces, the timestamp and RFC 5961
// state, and nothing else. time_wait_arrives() is the segment-arrival part of input.cpp,
// followed for a Connection in TIME-WAIT, line for line: the same segment gets the same
// answer, the same drop reason and the same timer restart. The owner (the Stack) keeps the
// deadline on its timer wheel and sends what the verdict asks for.
#pragma once

#include <cstdint>

#include "synfin/config.hpp"
#include "synfin/drop_reason.hpp"
#include "synfin/time.hpp"
#include "tcp/connection.hpp"
#include "tcp/isn.hpp"
#include "wire/seq.hpp"
#include "wire/tcp.hpp"

namespace synfin::tcp {

struct TimeWaitRecord {
  FourTuple tuple;
  Seq snd_nxt;              // SND.NXT = SND.UNA: our FIN is acknowledged
  Seq rcv_nxt;              // RCV.NXT, past the peer's FIN
  std::uint32_t rcv_wnd = 0;     // RCV.WND as last announced: the acceptability test's window
  std::uint32_t free_space = 0;  // receive-buffer space (TcpConfig::accept_free_space)
  // What the RFC 5961 section 5 test of SEG.ACK needs (MAY-12): the largest window the peer
  // offered, which a window update may still raise. SND.WL2 is not kept: an update needs
  // SEG.ACK = SND.NXT, and SND.WL2 <= SND.NXT always.
  std::uint32_t max_snd_wnd = 0;
  Seq snd_wl1;
  // RFC 7323: TS.Recent and when it was set (for the 24-day rule). Our clock's offset is the
  // owner's to give (a keyed hash of the 4-tuple, ConnectionHost::timestamp_offset).
  std::uint32_t ts_recent = 0;
  wire::SackBlock dsack{};       // a duplicate to report (RFC 2883), while dsack_pending
  Instant ts_recent_at{};
  Instant challenge_window{};    // RFC 5961 section 7: ACKs sent in the current second
  std::uint16_t challenge_count = 0;
  std::uint16_t window = 0;      // the window field we send: it no longer changes (no reads)
  std::uint8_t rcv_wscale = 0;
  std::uint8_t snd_wscale = 0;
  bool ts_ok : 1 = false;
  bool sack_ok : 1 = false;
  bool dsack_pending : 1 = false;
  bool ack_pending : 1 = false;  // an ACK is due; the owner may hold it until its batch ends
  // Bits and a byte the owner keeps here for itself rather than in a table of its own.
  bool host_queued : 1 = false;
  bool host_tos_set : 1 = false;
  std::uint8_t host_tos = 0;
};

// A compact record is the point: one must cost far less than the 128 bytes issue 6 allows
// a TIME-WAIT connection all-in (the Stack adds its hash index and a timer-wheel entry).
static_assert(sizeof(TimeWaitRecord) <= 72, "TimeWaitRecord grew: a TIME-WAIT must stay <= 128 bytes all-in");

// What to do with a segment that reached a TIME-WAIT record.
struct TimeWaitVerdict {
  enum class Action : std::uint8_t {
    stay,    // the record stays (an ACK may be due: see ack_now and ack_pending)
    close,   // an acceptable RST closed it (TimeWaitRst::close): CLOSED, cause rcv_rst
    reopen,  // MAY-2: a new SYN beyond the old sequence space; the record goes, the SYN
             // goes on to the listener
  };
  Action action = Action::stay;
  bool ack_now = false;        // send time_wait_ack() at once (rate-limited ACKs, RFC 5961)
  bool restart_timer = false;  // the 2 MSL wait starts over (MUST-13)
  bool dropped = false;
  DropReason drop = DropReason::tcp_unexpected;
};

// May a SYN (no ACK, no RST) reaching a connection in TIME-WAIT open a new incarnation of
// its 4-tuple? RFC 6191 (SHLD-4) when the old incarnation used timestamps and the new one
// would (the SYN carries them and `timestamps_wanted`): a newer TSval than TS.Recent, or the
// same TSval with a sequence number beyond RCV.NXT; otherwise RFC 1122's rule (MAY-2): a
// sequence number beyond RCV.NXT. The owner asks only when a listener would take the SYN.
bool syn_reopens_time_wait(const wire::TcpSegment& seg, Seq rcv_nxt, bool ts_used, std::uint32_t ts_recent,
                           bool timestamps_wanted);

// The segment-arrival steps of RFC 9293 section 3.10.7.4 for TIME-WAIT, with RFC 7323 PAWS
// and the RFC 5961 defences. `listening`: a listener would take a new SYN on this port
// (MAY-2). Updates the record (TS.Recent, the challenge-ACK limiter, a D-SACK block, a due
// ACK in ack_pending); sends nothing itself.
TimeWaitVerdict time_wait_arrives(TimeWaitRecord& r, const wire::TcpSegment& seg, const TcpConfig& cfg,
                                  bool listening, Instant now);

// The ACK a TIME-WAIT record sends: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with timestamps (our
// clock plus ts_offset) and a pending D-SACK block. Clears ack_pending.
OutSegment time_wait_ack(TimeWaitRecord& r, std::uint32_t ts_offset, Instant now);

}  // namespace synfin::tcp

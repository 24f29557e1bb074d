// Structured trace events: every state change, every segment in and out, timers and drops.
// Applications subscribe with a TraceSink; text and JSON-lines sinks are provided.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "synfin/drop_reason.hpp"
#include "synfin/handle.hpp"
#include "synfin/tcp_state.hpp"
#include "synfin/time.hpp"
#include "wire/tcp.hpp"

namespace synfin {

enum class TraceKind : std::uint8_t { state_change, segment_in, segment_out, timer, drop };

constexpr std::string_view to_string(TraceKind k) {
  switch (k) {
    case TraceKind::state_change: return "state";
    case TraceKind::segment_in: return "in";
    case TraceKind::segment_out: return "out";
    case TraceKind::timer: return "timer";
    case TraceKind::drop: return "drop";
  }
  return "?";
}

struct TraceSegment {
  std::uint32_t src_addr = 0;
  std::uint32_t dst_addr = 0;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  std::uint32_t payload_len = 0;
  wire::TcpOptions options;
  bool retransmission = false;
};

struct TraceEvent {
  TraceKind kind = TraceKind::state_change;
  Instant at{};
  const char* stack = "";  // the stack's name, for runs with several
  Handle conn;             // invalid for segments that reach no connection, and for a
                           // compact TIME-WAIT record, which belongs to no socket
  // state_change
  TcpState from = TcpState::closed;
  TcpState to = TcpState::closed;
  StateCause cause = StateCause::user_open_active;
  // segment_in, segment_out (and drop, when a segment was dropped)
  TraceSegment segment;
  // connection snapshot at segment_out (congestion and flow state)
  std::uint32_t cwnd = 0;
  std::uint32_t ssthresh = 0;
  bool in_recovery = false;  // a loss recovery (fast retransmit, NewReno or SACK) is under way
  // timer
  std::string_view timer;
  // drop
  DropReason drop = DropReason::tcp_unexpected;
};

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void on_trace(const TraceEvent& e) = 0;
};

// One line per event, for people.
class TextTraceSink : public TraceSink {
 public:
  explicit TextTraceSink(std::FILE* out) : out_(out) {}
  void on_trace(const TraceEvent& e) override;
  static std::string format(const TraceEvent& e);

 private:
  std::FILE* out_;
};

// One JSON object per line, for programs.
class JsonTraceSink : public TraceSink {
 public:
  explicit JsonTraceSink(std::FILE* out) : out_(out) {}
  void on_trace(const TraceEvent& e) override;
  static std::string format(const TraceEvent& e);

 private:
  std::FILE* out_;
};

// Sends every event to several sinks.
class TeeTraceSink : public TraceSink {
 public:
  void add(TraceSink* s) { if (s != nullptr && count_ < 4) sinks_[count_++] = s; }
  void on_trace(const TraceEvent& e) override {
    for (int i = 0; i < count_; ++i) sinks_[i]->on_trace(e);
  }

 private:
  TraceSink* sinks_[4] = {};
  int count_ = 0;
};

}  // namespace synfin

// Trace sinks: text for people, JSON lines for programs.
#include <fmt/format.h>

#include "synfin/trace.hpp"
#include "wire/ipv4.hpp"

namespace synfin {

namespace {

std::string endpoint(std::uint32_t addr, std::uint16_t port) {
  return fmt::format("{}:{}", wire::Ipv4Addr{addr}.to_string(), port);
}

std::string json_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

}  // namespace

std::string TextTraceSink::format(const TraceEvent& e) {
  const std::string head = fmt::format("{:12.6f} {:<8}", to_seconds(e.at), e.stack);
  const TraceSegment& s = e.segment;
  switch (e.kind) {
    case TraceKind::state_change:
      return fmt::format("{} state {} -> {} ({})", head, to_string(e.from), to_string(e.to),
                         to_string(e.cause));
    case TraceKind::segment_in:
    case TraceKind::segment_out: {
      std::string opts = wire::options_to_string(s.options);
      std::string cc;
      if (e.kind == TraceKind::segment_out && e.conn.valid() && e.cwnd > 0) {
        cc = e.ssthresh >= 0x7fffffff ? fmt::format(" [cwnd {}{}]", e.cwnd, e.in_recovery ? " recovery" : "")
                                      : fmt::format(" [cwnd {} ssthresh {}{}]", e.cwnd, e.ssthresh,
                                                    e.in_recovery ? " recovery" : "");
      }
      return fmt::format("{} {:<5} {} > {} {} seq {} ack {} win {} len {}{}{}{}", head,
                         e.kind == TraceKind::segment_in ? "in" : "out",
                         endpoint(s.src_addr, s.src_port), endpoint(s.dst_addr, s.dst_port),
                         wire::flags_to_string(s.flags), s.seq, s.ack, s.window, s.payload_len,
                         opts.empty() ? "" : " <" + opts + ">", s.retransmission ? " [rtx]" : "", cc);
    }
    case TraceKind::timer:
      return fmt::format("{} timer {}", head, e.timer);
    case TraceKind::drop:
      return fmt::format("{} drop  {} ({})", head, to_string(e.drop), describe(e.drop));
  }
  return head;
}

void TextTraceSink::on_trace(const TraceEvent& e) {
  const std::string line = format(e);
  std::fprintf(out_, "%s\n", line.c_str());
}

std::string JsonTraceSink::format(const TraceEvent& e) {
  std::string o = fmt::format(R"({{"t":{:.6f},"stack":"{}","kind":"{}")", to_seconds(e.at),
                              json_escape(e.stack), to_string(e.kind));
  if (e.conn.valid()) o += fmt::format(R"(,"conn":{})", e.conn.index);
  const TraceSegment& s = e.segment;
  switch (e.kind) {
    case TraceKind::state_change:
      o += fmt::format(R"(,"local":"{}","remote":"{}","from":"{}","to":"{}","cause":"{}")",
                       endpoint(s.src_addr, s.src_port), endpoint(s.dst_addr, s.dst_port),
                       to_string(e.from), to_string(e.to), to_string(e.cause));
      break;
    case TraceKind::segment_in:
    case TraceKind::segment_out:
      o += fmt::format(
          R"(,"src":"{}","dst":"{}","flags":"{}","seq":{},"ack":{},"win":{},"urg":{},"len":{},"options":"{}","rtx":{})",
          endpoint(s.src_addr, s.src_port), endpoint(s.dst_addr, s.dst_port),
          wire::flags_to_string(s.flags), s.seq, s.ack, s.window, s.urgent, s.payload_len,
          json_escape(wire::options_to_string(s.options)), s.retransmission ? "true" : "false");
      if (e.kind == TraceKind::segment_out && e.conn.valid()) {
        o += fmt::format(R"(,"cwnd":{},"ssthresh":{},"recovery":{})", e.cwnd, e.ssthresh,
                         e.in_recovery ? "true" : "false");
      }
      break;
    case TraceKind::timer:
      o += fmt::format(R"(,"timer":"{}")", e.timer);
      break;
    case TraceKind::drop:
      o += fmt::format(R"(,"reason":"{}","flags":"{}","seq":{},"len":{})", to_string(e.drop),
                       wire::flags_to_string(s.flags), s.seq, s.payload_len);
      break;
  }
  o += '}';
  return o;
}

void JsonTraceSink::on_trace(const TraceEvent& e) {
  const std::string line = format(e);
  std::fprintf(out_, "%s\n", line.c_str());
}

}  // namespace synfin

// The demo's narrator. See narrator.hpp.
#include "narrator.hpp"

#include <fmt/format.h>

#include "wire/tcp.hpp"

namespace synfin::tools {

namespace flag = wire::tcp_flag;

Narrator::Narrator(std::FILE* out, Lang lang, bool color) : out_(out), lang_(lang), color_(color) {}

void Narrator::header() {
  if (out_ == nullptr) return;
  std::fprintf(out_, "%s\n", tr("    time (s)  side     what happens", "    时间 (秒)  一方     发生了什么").c_str());
  std::fprintf(out_, "  ----------  -------  ---------------------------------------------------------------\n");
}

void Narrator::line(Instant at, std::string_view who, const std::string& what, const std::string& why) {
  if (out_ == nullptr) return;
  const char* dim = color_ ? "\033[2m" : "";
  const char* reset = color_ ? "\033[0m" : "";
  std::fprintf(out_, "  %10.6f  %-7s  %s\n", to_seconds(at), std::string(who).c_str(), what.c_str());
  if (!why.empty()) std::fprintf(out_, "  %10s  %-7s    %s%s%s\n", "", "", dim, why.c_str(), reset);
}

void Narrator::note(Instant at, std::string_view who, const std::string& text) {
  line(at, who, "* " + text, "");
}

void Narrator::network(Instant at, const std::string& text) {
  line(at, "network", "~ " + text, "");
}

void Narrator::on_trace(const TraceEvent& e) {
  const std::string who = e.stack;
  SideStats& st = sides_[who];
  if (e.kind == TraceKind::state_change) {
    if (e.from == TcpState::closed && e.to == TcpState::listen) return;  // a listener's child is born
    if (st.states.empty()) st.states.push_back(e.from);
    st.states.push_back(e.to);
    const char* bold = color_ ? "\033[1m" : "";
    const char* reset = color_ ? "\033[0m" : "";
    line(e.at, who,
         fmt::format("{}{} -> {}{}  ({})", bold, to_string(e.from), to_string(e.to), reset,
                     to_string(e.cause)),
         "");
    return;
  }
  if (e.kind == TraceKind::drop) {
    line(e.at, who, fmt::format("x {} {}", tr("drops a segment:", "丢弃一个报文段："), to_string(e.drop)),
         std::string(describe(e.drop)));
    return;
  }
  if (e.kind != TraceKind::segment_out) return;
  const TraceSegment& s = e.segment;
  const std::string me_key = fmt::format("{}:{}>{}", s.src_addr, s.src_port, s.dst_port);
  const std::string peer_key = fmt::format("{}:{}>{}", s.dst_addr, s.dst_port, s.src_port);
  Flow& me = flows_[me_key];
  Flow& peer = flows_[peer_key];
  if ((s.flags & flag::SYN) && !s.retransmission && (!me.have_isn || me.isn != s.seq)) {
    me = Flow{};  // a new incarnation on these ports
    me.have_isn = true;
    me.isn = s.seq;
  }
  if (s.flags & flag::SYN) me.offered_sack = s.options.sack_permitted;
  ++st.segments;
  if (s.retransmission) ++st.retransmissions;
  st.payload_bytes += s.payload_len;
  const std::uint32_t rseq = me.have_isn ? s.seq - me.isn : s.seq;
  const std::uint32_t rack = peer.have_isn ? s.ack - peer.isn : s.ack;
  std::string what = fmt::format("{} {:<3} seq {} ack {} win {} len {}", "==>",
                                 wire::flags_to_string(s.flags), rseq,
                                 (s.flags & flag::ACK) ? std::to_string(rack) : "-", s.window, s.payload_len);
  // SACK blocks name the peer's sequence numbers: show them relative to its ISN too.
  wire::TcpOptions shown = s.options;
  if (peer.have_isn) {
    for (std::size_t i = 0; i < shown.sack_count; ++i) {
      shown.sack[i].left = wire::Seq{shown.sack[i].left.raw() - peer.isn};
      shown.sack[i].right = wire::Seq{shown.sack[i].right.raw() - peer.isn};
    }
  }
  const std::string opts = wire::options_to_string(shown);
  if (!opts.empty()) what += " <" + opts + ">";
  // The sender's congestion state, when it is sending data: cwnd, ssthresh once a loss has
  // set it, and the loss recovery under way.
  if (s.payload_len > 0 && e.cwnd > 0) {
    const std::string recovery = e.in_recovery ? ", " + recovery_kind(me, peer) : "";
    what += e.ssthresh >= 0x7fffffffu ? fmt::format("  [cwnd {}{}]", e.cwnd, recovery)
                                      : fmt::format("  [cwnd {} ssthresh {}{}]", e.cwnd, e.ssthresh, recovery);
  }
  std::string other;
  for (const auto& [name, _] : sides_)
    if (name != who) other = name;
  if (other.empty()) other = tr("the peer", "对端");
  const std::string why = explain(e, me, peer, who, other);
  line(e.at, who, what, why);
  const std::uint32_t end = rseq + s.payload_len + ((s.flags & (flag::SYN | flag::FIN)) ? 1 : 0);
  if (static_cast<std::int32_t>(end - me.highest) > 0) me.highest = end;
  if (s.flags & flag::ACK) {
    me.last_ack = rack;
    me.sent_any_ack = true;
  }
}

// The options a SYN offers (or a SYN-ACK accepts): each is used only if both SYNs carry it.
std::string Narrator::offered_options(const wire::TcpOptions& o, bool answer) const {
  std::vector<std::string> parts;
  if (o.has_wscale) parts.push_back(fmt::format(fmt::runtime(tr("window scaling (shift {})", "窗口缩放（移位 {}）")), o.wscale));
  if (o.sack_permitted) parts.push_back(tr("SACK", "SACK"));
  if (o.has_timestamps) parts.push_back(tr("timestamps", "时间戳"));
  if (parts.empty()) return {};
  std::string list;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) list += i + 1 == parts.size() ? tr(" and ", "和") : tr(", ", "、");
    list += parts[i];
  }
  return answer ? fmt::format(fmt::runtime(tr("; it accepts {} (RFC 7323, RFC 2018)", "；它接受{}（RFC 7323、RFC 2018）")), list)
                : fmt::format(fmt::runtime(tr("; it offers {}, each used only if the answer carries it too",
                                              "；它提议使用{}，只有对方的应答也带上时才会启用")), list);
}

std::string Narrator::explain(const TraceEvent& e, Flow& me, Flow& peer, const std::string& who,
                              const std::string& other) {
  const TraceSegment& s = e.segment;
  const bool syn = s.flags & flag::SYN, ack = s.flags & flag::ACK, fin = s.flags & flag::FIN,
             rst = s.flags & flag::RST;
  const std::uint32_t rseq = me.have_isn ? s.seq - me.isn : s.seq;
  const std::uint32_t rack = peer.have_isn ? s.ack - peer.isn : s.ack;
  if (rst) {
    if (e.conn.valid() && me.sent_plain_syn && !me.syn_acked_once)
      return tr("reset: that SYN-ACK acknowledges a SYN this side never sent (an old duplicate); "
                "this side stays in SYN-SENT (RFC 9293 figure 9)",
                "复位：该 SYN-ACK 确认的是本方从未发送过的 SYN（旧的重复报文）；本方仍处于 SYN-SENT（RFC 9293 图 9）");
    if (!e.conn.valid())
      return tr("reset: the segment reached no connection here (RFC 9293 section 3.10.7.1)",
                "复位：该报文段在这里没有对应的连接（RFC 9293 第 3.10.7.1 节）");
    return tr("reset: the connection is aborted at once", "复位：连接被立即中止");
  }
  const bool was_probe = peer.last_was_probe;
  peer.last_was_probe = false;
  me.last_was_probe = false;
  if (syn && !ack) {
    me.sent_plain_syn = true;
    if (s.retransmission)
      return fmt::format(fmt::runtime(tr("the SYN again: no answer yet, so it is retransmitted with a doubled timeout",
                                         "再次发送 SYN：尚无应答，超时时间加倍后重传")));
    return fmt::format(fmt::runtime(tr("first handshake segment: {} asks to open a connection and announces its MSS",
                                       "握手第一步：{} 请求建立连接，并告知其 MSS")), who) +
           offered_options(s.options, false);
  }
  if (syn && ack) {
    if (me.sent_plain_syn && !me.syn_acked_once && !e.segment.retransmission) {
      me.syn_acked_once = true;
      return tr("simultaneous open: the SYNs crossed, so this side acknowledges the peer's SYN and repeats its own",
                "同时打开：两个 SYN 交叉，本方确认对方的 SYN 并重复自己的 SYN");
    }
    if (me.sent_plain_syn && peer.have_isn && !me.syn_acked_once) {
      me.syn_acked_once = true;
      return tr("simultaneous open: the SYNs crossed, so this side acknowledges the peer's SYN and repeats its own",
                "同时打开：两个 SYN 交叉，本方确认对方的 SYN 并重复自己的 SYN");
    }
    if (s.retransmission)
      return tr("the SYN-ACK again: its acknowledgement has not come", "再次发送 SYN-ACK：仍未收到确认");
    if (peer.have_isn && rack != 1)
      return fmt::format(fmt::runtime(tr("second handshake segment from {}, but it answers an old duplicate SYN: "
                                         "its ACK does not match {}'s ISN + 1",
                                         "{} 发出的握手第二步，但它回应的是一个旧的重复 SYN：其确认号与 {} 的 ISN + 1 不符")),
                         who, other);
    return fmt::format(fmt::runtime(tr("second handshake segment: {} acknowledges the SYN and sends its own",
                                       "握手第二步：{} 确认对方的 SYN，并发送自己的 SYN")), who) +
           offered_options(s.options, true);
  }
  std::string text;
  if (s.payload_len > 0) {
    if (s.retransmission && e.in_recovery && me.offered_sack && peer.offered_sack) {
      text = fmt::format(fmt::runtime(tr("fast retransmission of bytes {}-{}: the peer's SACK blocks show a hole "
                                         "here (RFC 6675 loss recovery)",
                                         "快速重传第 {}-{} 字节：对端的 SACK 块表明这里有空洞（RFC 6675 丢失恢复）")),
                         rseq, rseq + s.payload_len - 1);
    } else if (s.retransmission && e.in_recovery) {
      text = fmt::format(fmt::runtime(tr("fast retransmission of bytes {}-{}: duplicate ACKs show they were lost "
                                         "(RFC 6582 NewReno recovery)",
                                         "快速重传第 {}-{} 字节：重复确认表明它们已丢失（RFC 6582 NewReno 恢复）")),
                         rseq, rseq + s.payload_len - 1);
    } else if (s.retransmission) {
      text = fmt::format(fmt::runtime(tr("retransmission of bytes {}-{}: the first copy was not acknowledged in time",
                                         "重传第 {}-{} 字节：第一次发送未及时得到确认")),
                         rseq, rseq + s.payload_len - 1);
    } else {
      text = fmt::format(fmt::runtime(tr("{0} bytes of data (bytes {1}-{2} of {3}'s stream)",
                                         "{0} 字节数据（{3} 的数据流中第 {1}-{2} 字节）")),
                         s.payload_len, rseq, rseq + s.payload_len - 1, who);
    }
  }
  if (fin) {
    const std::string f = me.fin_sent
                              ? tr("FIN again (retransmitted)", "再次发送 FIN（重传）")
                              : fmt::format(fmt::runtime(tr("FIN: {} has nothing more to send; it can still receive",
                                                            "FIN：{} 没有更多数据要发送，但仍可接收")), who);
    text = text.empty() ? f : text + "; " + f;
    me.fin_sent = true;
    me.fin_seq = rseq + s.payload_len;
  }
  if (!text.empty()) return text;
  // A pure ACK: which one?
  if (ack && s.payload_len == 0 && s.options.sack_count > 0 && peer.have_isn &&
      s.options.sack[0].right.raw() - peer.isn <= rack) {
    return fmt::format(fmt::runtime(tr("D-SACK: {0} received {1}'s bytes {2}-{3} twice (RFC 2883)",
                                       "D-SACK：{0} 两次收到了 {1} 的第 {2}-{3} 字节（RFC 2883）")),
                       who, other, s.options.sack[0].left.raw() - peer.isn, s.options.sack[0].right.raw() - peer.isn - 1);
  }
  if (ack && s.payload_len == 0 && s.options.sack_count > 0) {
    return fmt::format(fmt::runtime(tr("duplicate ACK with SACK: {} is missing bytes from {}; the blocks say what "
                                       "arrived beyond (RFC 2018)",
                                       "带 SACK 的重复确认：{} 缺少从第 {} 字节起的数据；SACK 块说明后面收到了什么（RFC 2018）")),
                       who, rack);
  }
  if (ack && s.payload_len == 0) {
    if (static_cast<std::int32_t>(rseq + 1 - me.highest) == 0 && me.sent_any_ack && rack == me.last_ack) {
      me.last_was_probe = true;
      return tr("keep-alive probe: an old sequence number, so the peer must answer if it is alive",
                "保活探测：使用一个旧序号，对端若还在就必须应答");
    }
    if (was_probe)
      return tr("answers the keep-alive probe: still here", "应答保活探测：我还在");
    if (me.sent_plain_syn && !me.syn_acked_once && peer.have_isn && rack == 1) {
      me.syn_acked_once = true;
      return tr("third handshake segment: acknowledges the SYN-ACK; the connection is established",
                "握手第三步：确认 SYN-ACK，连接建立");
    }
    me.syn_acked_once = true;
    if (peer.fin_sent && rack == peer.fin_seq + 1 && me.last_ack != rack)
      return fmt::format(fmt::runtime(tr("acknowledges {}'s FIN", "确认 {} 的 FIN")), other);
    if (me.sent_any_ack && rack == me.last_ack)
      return tr("duplicate ACK or window update: nothing new acknowledged", "重复确认或窗口更新：没有确认新的数据");
    return fmt::format(fmt::runtime(tr("acknowledges {}'s data up to byte {}", "确认 {} 的数据，直到第 {} 字节")),
                       other, rack - 1);
  }
  return "";
}

std::string Narrator::recovery_kind(const Flow& me, const Flow& peer) const {
  return me.offered_sack && peer.offered_sack ? tr("in SACK recovery (RFC 6675)", "处于 SACK 恢复（RFC 6675）")
                                              : tr("in NewReno recovery (RFC 6582)", "处于 NewReno 恢复（RFC 6582）");
}

void Narrator::summary(Instant end) {
  if (out_ == nullptr) return;
  std::fprintf(out_, "\n%s\n", tr("Summary", "小结").c_str());
  for (const auto& [name, st] : sides_) {
    std::string path;
    for (std::size_t i = 0; i < st.states.size(); ++i) {
      if (i) path += " -> ";
      path += to_string(st.states[i]);
    }
    std::fprintf(out_, "  %-7s %s\n", name.c_str(), path.c_str());
    std::fprintf(out_, "  %-7s %s\n", "",
                 fmt::format(fmt::runtime(tr("{} segments sent, {} retransmitted, {} payload bytes",
                                             "发送 {} 个报文段，重传 {} 个，载荷 {} 字节")),
                             st.segments, st.retransmissions, st.payload_bytes)
                     .c_str());
  }
  std::fprintf(out_, "  %s\n",
               fmt::format(fmt::runtime(tr("virtual time elapsed: {:.3f} s", "经过的虚拟时间：{:.3f} 秒")),
                           to_seconds(end))
                   .c_str());
}

}  // namespace synfin::tools

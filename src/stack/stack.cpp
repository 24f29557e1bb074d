// The Stack: IP input, demultiplexing, listeners with backlogs, sockets, timers, events.
// RFC 9293 section 3.9 (the user interface and the IP interface), RFC 6056 (ephemeral
// ports), RFC 5927 (ICMP validation).
#include <algorithm>
#include <cstring>

#include "stack/stack_impl.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace synfin {

using namespace wire::tcp_flag;

std::string_view to_string(SocketEventKind k) {
  switch (k) {
    case SocketEventKind::connected: return "connected";
    case SocketEventKind::readable: return "readable";
    case SocketEventKind::writable: return "writable";
    case SocketEventKind::peer_closed: return "peer closed";
    case SocketEventKind::reset: return "reset";
    case SocketEventKind::closed: return "closed";
    case SocketEventKind::accept_ready: return "accept ready";
    case SocketEventKind::error: return "error";
    case SocketEventKind::urgent: return "urgent";
  }
  return "?";
}

std::uint64_t Counters::total_drops() const {
  std::uint64_t n = 0;
  for (auto d : drops) n += d;
  return n;
}

namespace {

std::uint64_t listener_key(Ipv4Addr a, std::uint16_t port) {
  return (std::uint64_t{a.value} << 16) | port;
}

std::uint64_t load_key(const std::array<std::uint8_t, 16>& s, int off) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | s[static_cast<std::size_t>(off + i)];
  return v;
}

}  // namespace

Stack::Impl::Impl(StackConfig c)
    : cfg_(std::move(c)),
      demux_(load_key(cfg_.secret, 0) ^ 0x9e3779b97f4a7c15ULL, load_key(cfg_.secret, 8) ^ 0xc2b2ae3d27d4eb4fULL),
      time_wait_(load_key(cfg_.secret, 0) ^ 0x9e3779b97f4a7c15ULL, load_key(cfg_.secret, 8) ^ 0xc2b2ae3d27d4eb4fULL),
      isn_(cfg_.secret),
      rng_(cfg_.seed) {}

// --- addresses and routes ------------------------------------------------------------------

bool Stack::Impl::is_local(Ipv4Addr a) const {
  return std::any_of(interfaces_.begin(), interfaces_.end(),
                     [a](const Interface& i) { return i.addr == a; });
}

bool Stack::Impl::checksum_offloaded(Ipv4Addr local) const {
  for (const Interface& i : interfaces_)
    if (i.addr == local) return i.checksum_offload;
  return false;
}

// Broadcast, multicast, unspecified, or the broadcast address of one of our subnets
// (RFC 9293 MUST-46, MUST-57, MUST-63).
bool Stack::Impl::is_bad_remote(Ipv4Addr a) const {
  if (a.is_unspecified() || a.is_broadcast() || a.is_multicast()) return true;
  for (const Interface& i : interfaces_) {
    if (i.prefix_len >= 31 || i.prefix_len == 0) continue;
    const std::uint32_t host_mask = (1u << (32 - i.prefix_len)) - 1;
    if ((a.value & ~host_mask) == (i.addr.value & ~host_mask) && (a.value & host_mask) == host_mask)
      return true;
  }
  return false;
}

// MUST-44: the local address comes from the route to the remote: the interface whose
// subnet holds it, else the first interface (the default route).
Result<Ipv4Addr, Error> Stack::Impl::route(Ipv4Addr remote) const {
  if (interfaces_.empty()) return fail(Error::unreachable);
  for (const Interface& i : interfaces_) {
    if (i.prefix_len == 0) continue;
    const std::uint32_t mask = i.prefix_len >= 32 ? ~0u : ~((1u << (32 - i.prefix_len)) - 1);
    if ((remote.value & mask) == (i.addr.value & mask)) return i.addr;
  }
  return interfaces_.front().addr;
}

const TcpConfig& Stack::Impl::config_for(Ipv4Addr local) const {
  for (std::size_t i = 0; i < interfaces_.size(); ++i)
    if (interfaces_[i].addr == local) return iface_cfg_[i];
  return cfg_.tcp;
}

// RFC 6056 algorithm 1: start at a random point of the ephemeral range and walk it, skipping
// any port whose 4-tuple is in use (TIME-WAIT included, whole or compact).
std::uint16_t Stack::Impl::pick_ephemeral(Ipv4Addr local, Ipv4Addr remote, std::uint16_t rport) {
  const std::uint32_t lo = cfg_.ephemeral_low, hi = cfg_.ephemeral_high;
  if (hi < lo) return 0;
  const std::uint32_t count = hi - lo + 1;
  std::uint32_t next = static_cast<std::uint32_t>(rng_() % count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto port = static_cast<std::uint16_t>(lo + (next % count));
    const tcp::FourTuple t{local.value, remote.value, port, rport};
    if (!tuple_in_use(t) && find_listener(local, port) == kNoSlot) {
      return port;
    }
    ++next;
  }
  return 0;
}

// --- slots ---------------------------------------------------------------------------------

std::uint32_t Stack::Impl::alloc_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t i = free_slots_.back();
    free_slots_.pop_back();
    return i;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

void Stack::Impl::free_slot(std::uint32_t idx) {
  Slot& s = slots_[idx];
  if (s.conn) {
    if (s.in_demux) demux_.erase(s.key);
    if (s.conn->state() != TcpState::closed) {
      auto& n = counters_.connections_by_state[static_cast<std::size_t>(s.conn->state())];
      if (n > 0) --n;
    }
    --connections_;
  }
  if (s.half_open && s.parent != kNoSlot && slots_[s.parent].listener) {
    --slots_[s.parent].listener->syn_queue;
  }
  wheel_.cancel(idx);
  s.conn.reset();
  s.listener.reset();
  s.kind = Slot::Kind::free;
  s.app_owned = false;
  s.in_demux = false;
  s.half_open = false;
  s.linger_zero = false;
  s.ack_queued = false;
  s.unopened = false;
  s.soft_errors = true;
  s.tos = -1;
  s.parent = kNoSlot;
  ++s.generation;
  free_slots_.push_back(idx);
}

Slot* Stack::Impl::app_slot(Handle h) {
  if (h.index >= slots_.size()) return nullptr;
  Slot& s = slots_[h.index];
  if (s.generation != h.generation || s.kind == Slot::Kind::free || !s.app_owned) return nullptr;
  return &s;
}

const Slot* Stack::Impl::app_slot(Handle h) const {
  return const_cast<Impl*>(this)->app_slot(h);
}

std::uint32_t Stack::Impl::find_listener(Ipv4Addr addr, std::uint16_t port) const {
  auto it = listeners_.find(listener_key(addr, port));
  if (it == listeners_.end()) it = listeners_.find(listener_key(Ipv4Addr{}, port));
  return it == listeners_.end() ? kNoSlot : it->second;
}

void Stack::Impl::push_event(std::uint32_t idx, SocketEventKind k, Error e) {
  events_.push_back(SocketEvent{handle_of(idx), k, e});
}

// After every call into a connection: reschedule its timer, and let go of it once closed.
void Stack::Impl::after_call(std::uint32_t idx, Instant now) {
  Slot& s = slots_[idx];
  tcp::Connection& c = *s.conn;
  const TcpState st = c.state();
  if (s.half_open && st != TcpState::syn_received) {
    s.half_open = false;
    if (s.parent != kNoSlot && slots_[s.parent].listener) --slots_[s.parent].listener->syn_queue;
  }
  if ((st == TcpState::closed && !s.unopened) || (st == TcpState::listen && s.parent != kNoSlot)) {
    // Gone: a closed connection, or a half-open child that went back to LISTEN (MUST-11).
    if (s.in_demux) {
      demux_.erase(s.key);
      s.in_demux = false;
    }
    wheel_.cancel(idx);
    if (s.parent != kNoSlot && slots_[s.parent].listener) {
      auto& q = slots_[s.parent].listener->accept_queue;
      q.erase(std::remove(q.begin(), q.end(), idx), q.end());
    }
    if (!s.app_owned) free_slot(idx);
    return;
  }
  // TIME-WAIT that nobody holds a handle to (closed by the application, not waiting in an
  // accept queue), with its last ACK sent: the connection shrinks to a compact record.
  if (st == TcpState::time_wait && !s.app_owned && s.parent == kNoSlot && !s.ack_queued &&
      cfg_.compact_time_wait && c.compactable()) {
    compact(idx, now);
    return;
  }
  Instant d = c.next_deadline();
  if (d != kNever && d <= now) d = now + Duration{stack::TimerWheel::kTickUs};
  wheel_.schedule(idx, d);
}

// --- ConnectionHost ------------------------------------------------------------------------

void Stack::Impl::emit(tcp::Connection& c, const tcp::OutSegment& seg) {
  const tcp::FourTuple& t = c.tuple();
  emit_tcp(Ipv4Addr{t.local_addr}, Ipv4Addr{t.remote_addr}, seg,
           current_ == kNoSlot ? std::int16_t{-1} : slots_[current_].tos);
  if (trace_ != nullptr) {
    trace_segment(TraceKind::segment_out, current_, Ipv4Addr{t.local_addr}, Ipv4Addr{t.remote_addr},
                  seg.header, seg.options, seg.payload_size(), seg.retransmission);
  }
  if (seg.retransmission) ++counters_.retransmissions;
}

void Stack::Impl::deliver(tcp::Connection& c, tcp::Event e) {
  const std::uint32_t idx = current_;
  if (idx == kNoSlot) return;
  Slot& s = slots_[idx];
  if (!s.app_owned) {
    // A child nobody has accepted yet: once established it joins the accept queue.
    if (e.kind == tcp::EventKind::connected && s.parent != kNoSlot && slots_[s.parent].listener) {
      slots_[s.parent].listener->accept_queue.push_back(idx);
      ++counters_.connections_accepted;
      push_event(s.parent, SocketEventKind::accept_ready);
    }
    return;
  }
  (void)c;
  switch (e.kind) {
    case tcp::EventKind::connected: push_event(idx, SocketEventKind::connected); break;
    case tcp::EventKind::readable: push_event(idx, SocketEventKind::readable); break;
    case tcp::EventKind::writable: push_event(idx, SocketEventKind::writable); break;
    case tcp::EventKind::peer_closed: push_event(idx, SocketEventKind::peer_closed); break;
    case tcp::EventKind::reset: push_event(idx, SocketEventKind::reset, e.error); break;
    case tcp::EventKind::closed: push_event(idx, SocketEventKind::closed, e.error); break;
    case tcp::EventKind::soft_error:
      if (e.error == Error::timed_out) ++counters_.retransmit_thresholds;
      if (s.soft_errors) push_event(idx, SocketEventKind::error, e.error);
      break;
    case tcp::EventKind::urgent: push_event(idx, SocketEventKind::urgent); break;
  }
}

wire::Seq Stack::Impl::choose_isn(const tcp::FourTuple& t, Instant now) { return isn_.isn(t, now); }

void Stack::Impl::state_changed(tcp::Connection& c, TcpState from, TcpState to, StateCause why) {
  note_state(c.tuple(), current_, from, to, why);
}

void Stack::Impl::note_state(const tcp::FourTuple& t, std::uint32_t idx, TcpState from, TcpState to,
                             StateCause why) {
  if (from != TcpState::closed) {
    auto& n = counters_.connections_by_state[static_cast<std::size_t>(from)];
    if (n > 0) --n;
  }
  if (to != TcpState::closed) ++counters_.connections_by_state[static_cast<std::size_t>(to)];
  if (trace_ != nullptr) {
    TraceEvent ev;
    ev.kind = TraceKind::state_change;
    ev.at = now_;
    ev.stack = cfg_.name.c_str();
    ev.conn = idx == kNoSlot ? Handle{} : handle_of(idx);
    ev.from = from;
    ev.to = to;
    ev.cause = why;
    ev.segment.src_addr = t.local_addr;
    ev.segment.dst_addr = t.remote_addr;
    ev.segment.src_port = t.local_port;
    ev.segment.dst_port = t.remote_port;
    trace_->on_trace(ev);
  }
}

void Stack::Impl::dropped(tcp::Connection& c, const wire::TcpSegment& seg, DropReason r) {
  note_drop(c.tuple(), current_, seg, r);
}

void Stack::Impl::note_drop(const tcp::FourTuple& t, std::uint32_t idx, const wire::TcpSegment& seg,
                            DropReason r) {
  ++counters_.drops[static_cast<std::size_t>(r)];
  if (trace_ != nullptr) {
    TraceEvent ev;
    ev.kind = TraceKind::drop;
    ev.at = now_;
    ev.stack = cfg_.name.c_str();
    ev.conn = idx == kNoSlot ? Handle{} : handle_of(idx);
    ev.drop = r;
    ev.segment.src_addr = t.remote_addr;
    ev.segment.dst_addr = t.local_addr;
    ev.segment.src_port = seg.src_port;
    ev.segment.dst_port = seg.dst_port;
    ev.segment.seq = seg.seq.raw();
    ev.segment.ack = seg.ack.raw();
    ev.segment.flags = seg.flags;
    ev.segment.window = seg.window;
    ev.segment.payload_len = static_cast<std::uint32_t>(seg.payload.size());
    trace_->on_trace(ev);
  }
}

void Stack::Impl::timer_fired(tcp::Connection&, tcp::TimerKind k) { note_timer(current_, k); }

void Stack::Impl::note_timer(std::uint32_t idx, tcp::TimerKind k) {
  if (trace_ == nullptr) return;
  TraceEvent ev;
  ev.kind = TraceKind::timer;
  ev.at = now_;
  ev.stack = cfg_.name.c_str();
  ev.conn = idx == kNoSlot ? Handle{} : handle_of(idx);
  ev.timer = tcp::to_string(k);
  trace_->on_trace(ev);
}

// MUST-58, MUST-59: the ACK waits until every packet of the batch has been processed; the
// owner's transmit() sends one ACK for the final state.
void Stack::Impl::ack_deferred(tcp::Connection&, Instant) {
  if (current_ == kNoSlot) return;
  Slot& s = slots_[current_];
  if (!s.ack_queued) {
    s.ack_queued = true;
    ack_pending_.push_back(handle_of(current_));
  }
}

void Stack::Impl::flush_acks(Instant now) {
  if (ack_pending_.empty()) return;
  std::vector<Handle> pending;
  pending.swap(ack_pending_);
  for (Handle h : pending) {
    if (h.index & kTimeWaitTag) {
      const std::uint32_t r = h.index & ~kTimeWaitTag;
      if (!time_wait_.in_use(r) || !time_wait_[r].host_queued) continue;
      time_wait_[r].host_queued = false;
      if (time_wait_[r].ack_pending) time_wait_ack(r, now);
      continue;
    }
    if (h.index >= slots_.size()) continue;
    Slot& s = slots_[h.index];
    if (s.generation != h.generation || !s.conn) continue;
    s.ack_queued = false;
    call(h.index, now, [&](tcp::Connection& c) { c.send_pending_ack(now); });
  }
}

void Stack::Impl::count_drop(DropReason r, const wire::Ipv4Header* ip) {
  ++counters_.drops[static_cast<std::size_t>(r)];
  if (trace_ == nullptr) return;
  TraceEvent ev;
  ev.kind = TraceKind::drop;
  ev.at = now_;
  ev.stack = cfg_.name.c_str();
  ev.drop = r;
  if (ip != nullptr) {
    ev.segment.src_addr = ip->src.value;
    ev.segment.dst_addr = ip->dst.value;
  }
  trace_->on_trace(ev);
}

// --- TIME-WAIT records ---------------------------------------------------------------------

// The connection becomes a record: the slot, the Connection and its buffers go; the count of
// connections, and of those in TIME-WAIT, stays as it was.
void Stack::Impl::compact(std::uint32_t idx, Instant now) {
  Slot& s = slots_[idx];
  tcp::TimeWaitRecord rec = s.conn->to_time_wait_record();
  if (s.tos >= 0) {
    rec.host_tos_set = true;
    rec.host_tos = static_cast<std::uint8_t>(s.tos);
  }
  const Instant deadline = s.conn->next_deadline();
  free_slot(idx);  // counts the connection out ...
  ++connections_;  // ... and the record counts it back in
  ++counters_.connections_by_state[static_cast<std::size_t>(TcpState::time_wait)];
  ++counters_.time_wait_compacted;
  time_wait_schedule(time_wait_.insert(rec), deadline, now);
}

// Returns false when a new SYN reopens the 4-tuple (MAY-2): the record is gone and the
// segment goes on to the listener.
bool Stack::Impl::time_wait_input(std::uint32_t r, const wire::TcpSegment& seg, Ipv4Addr local, Instant now) {
  const TcpConfig& cfg = config_for(local);
  const bool listening = find_listener(local, seg.dst_port) != kNoSlot;
  const tcp::TimeWaitVerdict v = tcp::time_wait_arrives(time_wait_[r], seg, cfg, listening, now);
  if (v.action == tcp::TimeWaitVerdict::Action::reopen) {
    auto& n = counters_.connections_by_state[static_cast<std::size_t>(TcpState::time_wait)];
    if (n > 0) --n;
    time_wait_remove(r);
    return false;
  }
  if (v.dropped) note_drop(time_wait_[r].tuple, kNoSlot, seg, v.drop);
  if (v.action == tcp::TimeWaitVerdict::Action::close) {
    note_state(time_wait_[r].tuple, kNoSlot, TcpState::time_wait, TcpState::closed, StateCause::rcv_rst);
    time_wait_remove(r);
    return true;
  }
  if (v.restart_timer) time_wait_schedule(r, now + 2 * cfg.msl, now);  // MUST-13
  if (v.ack_now) time_wait_ack(r, now);
  tcp::TimeWaitRecord& rec = time_wait_[r];
  if (rec.ack_pending && !rec.host_queued) {
    // Like a connection's, the ACK waits for the end of the batch (MUST-58, MUST-59).
    rec.host_queued = true;
    ack_pending_.push_back(Handle{kTimeWaitTag | r, 0});
  }
  return true;
}

void Stack::Impl::time_wait_ack(std::uint32_t r, Instant now) {
  tcp::TimeWaitRecord& rec = time_wait_[r];
  // The same timestamp clock as the connection had: its offset is a keyed hash of the tuple.
  const tcp::OutSegment seg = tcp::time_wait_ack(rec, timestamp_offset(rec.tuple), now);
  const Ipv4Addr local{rec.tuple.local_addr}, remote{rec.tuple.remote_addr};
  emit_tcp(local, remote, seg, rec.host_tos_set ? std::int16_t{rec.host_tos} : std::int16_t{-1});
  if (trace_ != nullptr) {
    trace_segment(TraceKind::segment_out, kNoSlot, local, remote, seg.header, seg.options, 0, false);
  }
}

void Stack::Impl::time_wait_schedule(std::uint32_t r, Instant deadline, Instant now) {
  if (deadline <= now) deadline = now + Duration{stack::TimerWheel::kTickUs};
  time_wait_wheel_.schedule(r, deadline);
}

// The record goes (its state already counted out, as free_slot() leaves it).
void Stack::Impl::time_wait_remove(std::uint32_t r) {
  time_wait_wheel_.cancel(r);
  time_wait_.erase(r);
  --connections_;
}

// 2 MSL have passed (MUST-13): CLOSED, as Connection::on_timer() would say it.
void Stack::Impl::time_wait_expired(std::uint32_t r) {
  note_timer(kNoSlot, tcp::TimerKind::time_wait);
  note_state(time_wait_[r].tuple, kNoSlot, TcpState::time_wait, TcpState::closed, StateCause::time_wait_expired);
  time_wait_remove(r);
}

void Stack::Impl::trace_segment(TraceKind kind, std::uint32_t idx, Ipv4Addr src, Ipv4Addr dst,
                                const wire::TcpHeaderFields& h, const wire::TcpOptions& o,
                                std::uint32_t len, bool rtx) {
  TraceEvent ev;
  ev.kind = kind;
  ev.at = now_;
  ev.stack = cfg_.name.c_str();
  ev.conn = idx == kNoSlot ? Handle{} : handle_of(idx);
  ev.segment.src_addr = src.value;
  ev.segment.dst_addr = dst.value;
  ev.segment.src_port = h.src_port;
  ev.segment.dst_port = h.dst_port;
  ev.segment.seq = h.seq.raw();
  ev.segment.ack = h.ack.raw();
  ev.segment.flags = h.flags;
  ev.segment.window = h.window;
  ev.segment.urgent = h.urgent;
  ev.segment.payload_len = len;
  ev.segment.options = o;
  ev.segment.retransmission = rtx;
  if (idx != kNoSlot && slots_[idx].conn) {
    const auto info = slots_[idx].conn->info();
    ev.cwnd = info.cwnd;
    ev.ssthresh = info.ssthresh;
    ev.in_recovery = info.in_recovery;
  }
  trace_->on_trace(ev);
}

// --- output --------------------------------------------------------------------------------

PacketBuffer& Stack::Impl::new_packet(std::size_t size) {
  if (!tx_pool_.empty()) {
    tx_queue_.push_back(std::move(tx_pool_.back()));
    tx_pool_.pop_back();
  } else {
    tx_queue_.emplace_back();
  }
  auto& p = tx_queue_.back();
  p.resize(size);
  return p;
}

void Stack::Impl::emit_tcp(Ipv4Addr src, Ipv4Addr dst, const tcp::OutSegment& seg, std::int16_t tos) {
  // Room for the longest header; the header's writer then tells its length (the options
  // are laid out once, not once to measure and again to write).
  auto& p = new_packet(wire::kIpv4MinHeader + wire::kTcpMinHeader + wire::kTcpMaxOptions + seg.payload_size());
  const std::size_t hl = wire::write_tcp_header(std::span(p.data() + wire::kIpv4MinHeader, p.size() - wire::kIpv4MinHeader),
                                                seg.header, seg.options, cfg_.tcp.option_layout);
  const std::size_t tcp_len = hl + seg.payload_size();
  const std::size_t total = wire::kIpv4MinHeader + tcp_len;
  p.resize(total);
  std::span<std::uint8_t> tcp(p.data() + wire::kIpv4MinHeader, tcp_len);
  std::size_t off = hl;
  if (checksum_offloaded(src)) {
    // The device fills in the checksum (MUST-2); the field stays zero until it does.
    for (auto piece : seg.payload) {
      if (!piece.empty()) std::memcpy(tcp.data() + off, piece.data(), piece.size());
      off += piece.size();
    }
  } else {
    // MUST-2: the checksum, summed while the payload is copied in (one pass over the bytes).
    // The header is summed last: its bytes were just stored, and read back at once they
    // would stall on store forwarding.
    wire::ChecksumAccumulator sum;
    wire::add_pseudo_header_v4(sum, src.value, dst.value, wire::ip_proto::tcp, static_cast<std::uint16_t>(tcp_len));
    for (auto piece : seg.payload) {
      sum.add_copy(tcp.data() + off, piece);
      off += piece.size();
    }
    wire::ChecksumAccumulator header;
    header.add(tcp.first(hl));  // the checksum field is still zero
    sum.add(header);            // at offset 0, even
    wire::store_be16(&tcp[16], sum.checksum());
  }
  wire::Ipv4Header ip;
  ip.tos = tos >= 0 ? static_cast<std::uint8_t>(tos) : cfg_.tos;  // handed to IP unchanged (SHLD-22)
  ip.ttl = cfg_.ttl;
  ip.protocol = wire::ip_proto::tcp;
  ip.src = src;
  ip.dst = dst;
  ip.total_length = static_cast<std::uint16_t>(total);
  ip.id = ip_id_++;
  ip.dont_fragment = true;
  wire::write_ipv4_header(p, ip);
  ++counters_.packets_out;
  ++counters_.segments_out;
  if (seg.header.flags & RST) ++counters_.resets_out;
}

void Stack::Impl::emit_ip(Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto,
                          std::span<const std::uint8_t> payload) {
  const std::size_t total = wire::kIpv4MinHeader + payload.size();
  auto& p = new_packet(total);
  std::memcpy(p.data() + wire::kIpv4MinHeader, payload.data(), payload.size());
  wire::Ipv4Header ip;
  ip.tos = cfg_.tos;
  ip.ttl = cfg_.ttl;
  ip.protocol = proto;
  ip.src = src;
  ip.dst = dst;
  ip.total_length = static_cast<std::uint16_t>(total);
  ip.id = ip_id_++;
  wire::write_ipv4_header(p, ip);
  ++counters_.packets_out;
}

void Stack::Impl::send_reset_for(const wire::TcpSegment& seg, Ipv4Addr local, Ipv4Addr remote) {
  tcp::OutSegment rst;
  if (!tcp::Connection::reset_for(seg, rst)) return;
  emit_tcp(local, remote, rst);
  if (trace_ != nullptr) {
    trace_segment(TraceKind::segment_out, kNoSlot, local, remote, rst.header, rst.options, 0, false);
  }
}

// --- input ---------------------------------------------------------------------------------

void Stack::Impl::receive(std::span<const std::uint8_t> packet, Instant now) {
  now_ = now;
  ++counters_.packets_in;
  auto ip = wire::parse_ipv4(packet);
  if (!ip) {
    count_drop(ip.error());
    return;
  }
  const auto& h = ip->header;
  // MUST-57: segments to broadcast or multicast addresses (or anyone but us) are dropped.
  if (!is_local(h.dst)) {
    count_drop(DropReason::ip_not_for_us, &h);
    return;
  }
  // MUST-63: and so are segments from invalid source addresses.
  if (is_bad_remote(h.src)) {
    count_drop(DropReason::ip_bad_source, &h);
    return;
  }
  switch (h.protocol) {
    case wire::ip_proto::tcp: tcp_input(*ip, now); break;
    case wire::ip_proto::icmp: icmp_input(*ip, now); break;
    default: count_drop(DropReason::ip_unknown_protocol, &h); break;
  }
}

void Stack::Impl::tcp_input(const wire::Ipv4Packet& ip, Instant now) {
  const wire::PseudoHeaderV4 ph{ip.header.src.value, ip.header.dst.value};
  // MUST-3: the checksum is verified, here or by the device.
  auto seg = wire::parse_tcp(ip.payload, checksum_offloaded(ip.header.dst) ? nullptr : &ph);
  if (!seg) {
    count_drop(seg.error(), &ip.header);
    return;
  }
  const tcp::FourTuple t{ip.header.dst.value, ip.header.src.value, seg->dst_port, seg->src_port};
  if (seg->src_port == 0 || seg->dst_port == 0) {
    note_drop(t, kNoSlot, *seg, DropReason::tcp_bad_port);
    return;
  }
  ++counters_.segments_in;
  if (seg->rst()) ++counters_.resets_in;
  std::uint32_t idx = demux_.find(t);
  const std::uint32_t tw = idx == stack::TupleMap::kNone ? time_wait_.find(t) : stack::TimeWaitTable::kNone;
  if (trace_ != nullptr) {
    trace_segment(TraceKind::segment_in, idx == stack::TupleMap::kNone ? kNoSlot : idx, ip.header.src,
                  ip.header.dst,
                  wire::TcpHeaderFields{seg->src_port, seg->dst_port, seg->seq, seg->ack, seg->flags,
                                        seg->window, seg->urgent},
                  seg->options, static_cast<std::uint32_t>(seg->payload.size()), false);
  }
  // A compact TIME-WAIT answers for itself, unless a new SYN reopens the 4-tuple (MAY-2).
  if (tw != stack::TimeWaitTable::kNone && time_wait_input(tw, *seg, ip.header.dst, now)) return;
  if (idx != stack::TupleMap::kNone) {
    Slot& s = slots_[idx];
    tcp::Connection& c = *s.conn;
    // MAY-2 and RFC 6191 (SHLD-4): a SYN in TIME-WAIT beyond the old connection's sequence
    // space, or with a newer timestamp, may open a new incarnation; the old one goes.
    if (c.state() == TcpState::time_wait &&
        tcp::syn_reopens_time_wait(*seg, c.rcv_nxt(), c.timestamps_in_use(), c.ts_recent(),
                                   config_for(ip.header.dst).timestamps) &&
        find_listener(ip.header.dst, seg->dst_port) != kNoSlot) {
      free_slot(idx);
      idx = stack::TupleMap::kNone;
    } else if (c.state() == TcpState::syn_received && s.parent != kNoSlot && seg->ack_flag() &&
               !seg->syn() && !seg->rst() && slots_[s.parent].listener &&
               slots_[s.parent].listener->accept_queue.size() >= slots_[s.parent].listener->backlog) {
      // The accept queue is full: ignore the ACK that would complete the handshake; the
      // SYN-ACK is retransmitted and the peer's ACK comes again (Linux's choice).
      ++counters_.listen_overflows;
      note_drop(t, idx, *seg, DropReason::tcp_listen_overflow);  // counted and traced
      return;
    } else {
      call(idx, now, [&](tcp::Connection& conn) { conn.on_segment(*seg, now); });
      return;
    }
  }
  const std::uint32_t lidx = find_listener(ip.header.dst, seg->dst_port);
  if (lidx != kNoSlot) {
    listen_input(lidx, *seg, t, now);
    return;
  }
  // RFC 9293 section 3.10.7.1: nothing here; answer with a reset.
  note_drop(t, kNoSlot, *seg, DropReason::tcp_no_socket);
  send_reset_for(*seg, ip.header.dst, ip.header.src);
}

void Stack::Impl::listen_input(std::uint32_t lidx, const wire::TcpSegment& seg,
                               const tcp::FourTuple& t, Instant now) {
  ListenerState& l = *slots_[lidx].listener;
  if (seg.rst()) {  // ignored in LISTEN
    note_drop(t, lidx, seg, DropReason::tcp_unexpected);
    return;
  }
  if (seg.ack_flag()) {  // <SEQ=SEG.ACK><CTL=RST>
    note_drop(t, lidx, seg, DropReason::tcp_unexpected);
    send_reset_for(seg, Ipv4Addr{t.local_addr}, Ipv4Addr{t.remote_addr});
    return;
  }
  if (!seg.syn()) {
    note_drop(t, lidx, seg, DropReason::tcp_unexpected);
    return;
  }
  const std::uint32_t syn_limit = std::min(l.backlog, cfg_.max_syn_backlog);
  if (l.accept_queue.size() >= l.backlog || l.syn_queue >= syn_limit ||
      connections_ >= cfg_.max_connections) {
    // Full: drop the SYN; the peer retries (counted and traced).
    ++counters_.listen_overflows;
    note_drop(t, kNoSlot, seg, DropReason::tcp_listen_overflow);  // reached no connection
    return;
  }
  const std::uint32_t idx = alloc_slot();
  Slot& s = slots_[idx];
  s.kind = Slot::Kind::connection;
  s.conn = std::make_unique<tcp::Connection>(*this, config_for(Ipv4Addr{t.local_addr}), t);
  s.parent = lidx;
  s.app_owned = false;
  s.half_open = true;
  s.in_demux = true;
  s.key = t;
  ++l.syn_queue;
  ++connections_;
  demux_.insert(t, idx);
  if (l.child_options.no_options) s.conn->set_no_options(*l.child_options.no_options);
  if (l.child_options.congestion) s.conn->set_congestion(*l.child_options.congestion);
  if (l.child_options.send_buffer || l.child_options.recv_buffer) {
    if (s.conn->set_buffer_sizes(l.child_options.send_buffer.value_or(cfg_.tcp.send_buffer),
                                 l.child_options.recv_buffer.value_or(cfg_.tcp.recv_buffer)) == Error::none) {
      s.conn->lock_buffer_sizes(l.child_options.send_buffer.has_value(), l.child_options.recv_buffer.has_value());
    }
  }
  call(idx, now, [&](tcp::Connection& c) {
    (void)c.open_passive();
    c.on_segment(seg, now);
  });
  if (slots_[idx].conn && slots_[idx].conn->state() != TcpState::closed) {
    SocketOptions rest = l.child_options;
    rest.no_options.reset();
    rest.congestion.reset();
    rest.send_buffer.reset();
    rest.recv_buffer.reset();
    (void)apply_options(idx, rest, now);
  }
}

void Stack::Impl::icmp_input(const wire::Ipv4Packet& ip, Instant now) {
  auto m = wire::parse_icmp(ip.payload);
  if (!m) {
    count_drop(m.error(), &ip.header);
    return;
  }
  ++counters_.icmp_in;
  if (m->type == wire::icmp_type::echo_request) {
    if (!cfg_.answer_ping) return;
    const auto reply = wire::build_icmp(wire::icmp_type::echo_reply, 0, m->rest, m->body);
    emit_ip(ip.header.dst, ip.header.src, wire::ip_proto::icmp, reply);
    ++counters_.icmp_out;
    return;
  }
  if (m->type == wire::icmp_type::echo_reply) return;
  auto e = wire::parse_icmp_tcp_error(*m);
  if (!e) {
    count_drop(e.error(), &ip.header);
    return;
  }
  // MUST-55: source quench is ignored.
  if (e->type == wire::icmp_type::source_quench) return;
  // MUST-54: the error goes to the connection whose segment it quotes, and only if the
  // quoted sequence number is one we have outstanding (RFC 5927 section 4.1).
  const tcp::FourTuple t{e->src.value, e->dst.value, e->src_port, e->dst_port};
  const std::uint32_t idx = demux_.find(t);
  if (idx == stack::TupleMap::kNone || !slots_[idx].conn) {
    count_drop(DropReason::icmp_no_connection, &ip.header);
    return;
  }
  tcp::Connection& c = *slots_[idx].conn;
  const auto info = c.info();
  const wire::Seq una = c.snd_una();
  // RFC 5927 section 4.1: SND.UNA <= SEG.SEQ < SND.NXT.
  if (!wire::in_window(e->seq, una, info.unacked)) {
    count_drop(DropReason::icmp_no_connection, &ip.header);
    return;
  }
  call(idx, now, [&](tcp::Connection& conn) {
    if (e->type == wire::icmp_type::dest_unreachable) {
      switch (e->code) {
        case 4:  // fragmentation needed: lower the MSS, never abort (RFC 1191)
          conn.path_mtu_changed(e->next_hop_mtu != 0 ? e->next_hop_mtu : 576, now);
          break;
        case 2:  // protocol unreachable
        case 3:  // port unreachable: hard errors (SHLD-26)
          conn.hard_error(Error::refused, now);
          break;
        case 9:   // network administratively prohibited
        case 10:  // host administratively prohibited
        case 13:  // communication administratively prohibited
          if (cfg_.icmp_prohibited_is_hard) {
            conn.hard_error(Error::refused, now);
          } else {
            conn.soft_error(Error::unreachable);
          }
          break;
        default:  // net, host, source route failed and the rest: soft (MUST-56)
          conn.soft_error(Error::unreachable);
          break;
      }
    } else {
      conn.soft_error(Error::unreachable);  // time exceeded, parameter problem (MUST-56)
    }
  });
}

void Stack::Impl::close_listener(std::uint32_t idx, Instant now) {
  Slot& s = slots_[idx];
  const ListenerState& l = *s.listener;
  listeners_.erase(listener_key(l.addr, l.port));
  --listener_count_;
  // Established children nobody accepted are reset; half-open ones are dropped silently,
  // as Linux and FreeBSD do (the peer's retransmitted SYN or ACK then meets a closed port).
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& c = slots_[i];
    if (c.kind != Slot::Kind::connection || c.parent != idx || c.app_owned || !c.conn) continue;
    if (c.conn->state() == TcpState::syn_received) {
      free_slot(i);
    } else {
      call(i, now, [&](tcp::Connection& conn) { conn.abort(now); });
    }
  }
  free_slot(idx);
}

// --- Stack: the public face ----------------------------------------------------------------

Stack::Stack(StackConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Stack::~Stack() = default;

const StackConfig& Stack::config() const { return impl_->cfg_; }

void Stack::update_tcp_config(const TcpConfig& tcp) {
  Impl& m = *impl_;
  m.cfg_.tcp = tcp;
  for (std::size_t i = 0; i < m.interfaces_.size(); ++i) {
    m.iface_cfg_[i] = tcp;  // in place: connections hold a pointer to it
    m.iface_cfg_[i].mtu = m.interfaces_[i].mtu;
  }
}

void Stack::add_interface(const Interface& iface) {
  impl_->interfaces_.push_back(iface);
  TcpConfig c = impl_->cfg_.tcp;
  c.mtu = iface.mtu;
  impl_->iface_cfg_.push_back(c);
}

const std::vector<Interface>& Stack::interfaces() const { return impl_->interfaces_; }

void Stack::receive(std::span<const std::uint8_t> packet, Instant now) { impl_->receive(packet, now); }

void Stack::poll(Instant now) {
  Impl& m = *impl_;
  m.now_ = now;
  auto connection_timer = [&](std::uint32_t id) {
    if (id < m.slots_.size() && m.slots_[id].conn) {
      m.call(id, now, [&](tcp::Connection& c) { c.on_timer(now); });
    }
  };
  auto time_wait_timer = [&](std::uint32_t r) {
    if (m.time_wait_.in_use(r)) m.time_wait_expired(r);
  };
  // Two wheels, one clock: timers fire in deadline order across both.
  while (true) {
    const Instant a = m.wheel_.next_deadline();
    const Instant b = m.time_wait_wheel_.next_deadline();
    if (std::min(a, b) > now) break;
    if (a <= b) m.wheel_.advance(a, connection_timer);
    else m.time_wait_wheel_.advance(b, time_wait_timer);
  }
  m.wheel_.advance(now, connection_timer);
  m.time_wait_wheel_.advance(now, time_wait_timer);
}

std::size_t Stack::transmit(PacketSink& sink, Instant now) {
  Impl& m = *impl_;
  m.flush_acks(now);
  std::size_t n = 0;
  while (!m.tx_queue_.empty()) {
    auto p = std::move(m.tx_queue_.front());
    m.tx_queue_.pop_front();
    sink.send_packet(p, now);
    if (m.tx_pool_.size() < 256) m.tx_pool_.push_back(std::move(p));
    ++n;
  }
  return n;
}

std::size_t Stack::pending_packets() const {
  return impl_->tx_queue_.size() + impl_->ack_pending_.size();
}

Instant Stack::next_deadline() const {
  return std::min(impl_->wheel_.next_deadline(), impl_->time_wait_wheel_.next_deadline());
}

Result<Handle, Error> Stack::listen(Ipv4Addr local, std::uint16_t port, std::uint32_t backlog) {
  Impl& m = *impl_;
  if (port == 0 || backlog == 0) return fail(Error::invalid_argument);
  if (!local.is_unspecified() && !m.is_local(local)) return fail(Error::invalid_argument);
  // MUST-41: a second LISTEN on the same address and port is refused; connections already
  // using the port are left alone (they are demultiplexed by their whole 4-tuple).
  if (m.listeners_.count(listener_key(local, port)) != 0) return fail(Error::address_in_use);
  const std::uint32_t idx = m.alloc_slot();
  Slot& s = m.slots_[idx];
  s.kind = Slot::Kind::listener;
  s.app_owned = true;
  s.listener = std::make_unique<ListenerState>();
  s.listener->addr = local;
  s.listener->port = port;
  s.listener->backlog = std::min<std::uint32_t>(backlog, 65535);
  m.listeners_[listener_key(local, port)] = idx;
  ++m.listener_count_;
  return m.handle_of(idx);
}

Result<Handle, Error> Stack::accept(Handle h) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr) return fail(Error::not_connected);
  if (s->kind != Slot::Kind::listener) return fail(Error::invalid_state);
  auto& q = s->listener->accept_queue;
  if (q.empty()) return fail(Error::would_block);
  const std::uint32_t idx = q.front();
  q.pop_front();
  Slot& c = m.slots_[idx];
  c.app_owned = true;
  c.parent = kNoSlot;
  // Whatever arrived before accept() is announced now.
  if (c.conn->readable_bytes() > 0 || c.conn->peer_fin_received()) m.push_event(idx, SocketEventKind::readable);
  if (c.conn->peer_fin_received()) m.push_event(idx, SocketEventKind::peer_closed);
  return m.handle_of(idx);
}

Result<Handle, Error> Stack::connect(Ipv4Addr remote, std::uint16_t port, Instant now,
                                     const ConnectOptions& opts) {
  auto h = open(remote, port, opts);
  if (!h) return h;
  const Error e = start(*h, now);
  if (e != Error::none) return fail(e);
  return h;
}

Error Stack::start(Handle h, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr || !s->conn) return Error::not_connected;
  if (!s->unopened) return Error::invalid_state;
  s->unopened = false;
  ++m.counters_.connections_opened;
  Error err = Error::none;
  m.call(h.index, now, [&](tcp::Connection& c) { err = c.open_active(now); });
  if (err != Error::none) {
    m.free_slot(h.index);
    return err;
  }
  return Error::none;
}

Result<Handle, Error> Stack::open(Ipv4Addr remote, std::uint16_t port, const ConnectOptions& opts) {
  Impl& m = *impl_;
  if (port == 0) return fail(Error::invalid_argument);
  if (m.is_bad_remote(remote)) return fail(Error::invalid_argument);  // MUST-46
  Ipv4Addr local = opts.local_addr;
  if (local.is_unspecified()) {
    auto r = m.route(remote);  // MUST-44
    if (!r) return fail(r.error());
    local = *r;
  } else if (!m.is_local(local)) {
    return fail(Error::invalid_argument);  // MUST-43: only one of our addresses
  }
  if (m.connections_ >= m.cfg_.max_connections) return fail(Error::no_resources);
  std::uint16_t lport = opts.local_port;
  if (lport == 0) {
    lport = m.pick_ephemeral(local, remote, port);
    if (lport == 0) return fail(Error::address_in_use);
  }
  const tcp::FourTuple t{local.value, remote.value, lport, port};
  if (m.tuple_in_use(t)) return fail(Error::address_in_use);
  const std::uint32_t idx = m.alloc_slot();
  Slot& s = m.slots_[idx];
  s.kind = Slot::Kind::connection;
  s.app_owned = true;
  s.in_demux = true;
  s.key = t;
  s.conn = std::make_unique<tcp::Connection>(m, m.config_for(local), t);
  s.unopened = true;
  ++m.connections_;
  m.demux_.insert(t, idx);
  return m.handle_of(idx);
}

Result<std::uint32_t, Error> Stack::send(Handle h, std::span<const std::uint8_t> data, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr || !s->conn) return fail(s == nullptr ? Error::not_connected : Error::invalid_state);
  Result<std::uint32_t, Error> r = fail(Error::invalid_state);
  m.call(h.index, now, [&](tcp::Connection& c) { r = c.send(data, now); });
  return r;
}

Result<std::uint32_t, Error> Stack::send_urgent(Handle h, std::span<const std::uint8_t> data,
                                                Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr || !s->conn) return fail(s == nullptr ? Error::not_connected : Error::invalid_state);
  Result<std::uint32_t, Error> r = fail(Error::invalid_state);
  m.call(h.index, now, [&](tcp::Connection& c) { r = c.send_urgent(data, now); });
  return r;
}

Result<std::uint32_t, Error> Stack::recv(Handle h, std::span<std::uint8_t> out, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr || !s->conn) return fail(s == nullptr ? Error::not_connected : Error::invalid_state);
  Result<std::uint32_t, Error> r = fail(Error::invalid_state);
  m.call(h.index, now, [&](tcp::Connection& c) { r = c.receive(out, now); });
  return r;
}

Error Stack::shutdown(Handle h, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr || !s->conn) return s == nullptr ? Error::not_connected : Error::invalid_state;
  Error e = Error::none;
  m.call(h.index, now, [&](tcp::Connection& c) { e = c.shutdown_write(now); });
  return e;
}

Error Stack::close(Handle h, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr) return Error::not_connected;
  if (s->kind == Slot::Kind::listener) {
    m.close_listener(h.index, now);
    return Error::none;
  }
  s->app_owned = false;  // the handle is given back; the connection finishes on its own
  const bool linger_zero = s->linger_zero;
  if (s->conn->state() == TcpState::closed || s->unopened) {
    m.free_slot(h.index);
    return Error::none;
  }
  m.call(h.index, now, [&](tcp::Connection& c) {
    if (linger_zero) c.abort(now);
    else (void)c.close(now);
  });
  return Error::none;
}

Error Stack::abort(Handle h, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr) return Error::not_connected;
  if (s->kind == Slot::Kind::listener) {
    m.close_listener(h.index, now);
    return Error::none;
  }
  s->app_owned = false;
  if (s->conn->state() == TcpState::closed) {
    m.free_slot(h.index);
    return Error::none;
  }
  m.call(h.index, now, [&](tcp::Connection& c) { c.abort(now); });
  return Error::none;
}

void SocketOptions::update(const SocketOptions& o) {
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs) mine = theirs;
  };
  take(no_delay, o.no_delay);
  take(keepalive, o.keepalive);
  take(keepalive_idle, o.keepalive_idle);
  take(keepalive_interval, o.keepalive_interval);
  take(keepalive_probes, o.keepalive_probes);
  take(user_timeout, o.user_timeout);
  take(send_buffer, o.send_buffer);
  take(recv_buffer, o.recv_buffer);
  take(linger_zero, o.linger_zero);
  take(tos, o.tos);
  take(report_soft_errors, o.report_soft_errors);
  take(syn_timeout, o.syn_timeout);
  take(no_options, o.no_options);
  take(congestion, o.congestion);
}

Error Stack::set_options(Handle h, const SocketOptions& o, Instant now) {
  Impl& m = *impl_;
  Slot* s = m.app_slot(h);
  if (s == nullptr) return Error::not_connected;
  if (s->kind == Slot::Kind::listener) {
    // Options on a listener apply to the connections it spawns.
    s->listener->child_options.update(o);
    return Error::none;
  }
  return m.apply_options(h.index, o, now);
}

Error Stack::Impl::apply_options(std::uint32_t idx, const SocketOptions& o, Instant now) {
  Slot* s = &slots_[idx];
  if (!s->conn) return Error::invalid_state;
  if (o.linger_zero) s->linger_zero = *o.linger_zero;
  if (o.tos) s->tos = *o.tos;
  if (o.report_soft_errors) s->soft_errors = *o.report_soft_errors;
  Error err = Error::none;
  call(idx, now, [&](tcp::Connection& c) {
    if (o.send_buffer || o.recv_buffer) {
      const auto info = c.info();
      err = c.set_buffer_sizes(o.send_buffer.value_or(info.send_buffer), o.recv_buffer.value_or(info.recv_buffer));
      if (err == Error::none) c.lock_buffer_sizes(o.send_buffer.has_value(), o.recv_buffer.has_value());
    }
    if (o.no_options) {
      if (c.state() == TcpState::closed) {
        c.set_no_options(*o.no_options);
      } else if (err == Error::none) {
        err = Error::invalid_state;  // the handshake is under way: too late
      }
    }
    if (o.syn_timeout) c.set_syn_timeout(*o.syn_timeout);
    if (o.congestion) c.set_congestion(*o.congestion);
    if (o.no_delay) c.set_no_delay(*o.no_delay, now);
    if (o.keepalive_idle || o.keepalive_interval || o.keepalive_probes) {
      c.set_keepalive_params(o.keepalive_idle.value_or(Duration::zero()),
                             o.keepalive_interval.value_or(Duration::zero()),
                             o.keepalive_probes.value_or(0), now);
    }
    if (o.keepalive) c.set_keepalive(*o.keepalive, now);
    if (o.user_timeout) c.set_user_timeout(*o.user_timeout);
  });
  return err;
}

Result<SocketInfo, Error> Stack::info(Handle h) const {
  const Impl& m = *impl_;
  const Slot* s = m.app_slot(h);
  if (s == nullptr) return fail(Error::not_connected);
  SocketInfo i;
  if (s->kind == Slot::Kind::listener) {
    i.state = TcpState::listen;
    i.listening = true;
    i.local_addr = s->listener->addr;
    i.local_port = s->listener->port;
    i.accept_queue = static_cast<std::uint32_t>(s->listener->accept_queue.size());
    i.syn_queue = s->listener->syn_queue;
    i.congestion = s->listener->child_options.congestion.value_or(m.cfg_.tcp.congestion);
    return i;
  }
  const auto c = s->conn->info();
  const auto& t = s->conn->tuple();
  i.state = c.state;
  i.local_addr = Ipv4Addr{t.local_addr};
  i.local_port = t.local_port;
  i.remote_addr = Ipv4Addr{t.remote_addr};
  i.remote_port = t.remote_port;
  i.srtt = c.srtt;
  i.rttvar = c.rttvar;
  i.rto = c.rto;
  i.cwnd = c.cwnd;
  i.ssthresh = c.ssthresh;
  i.snd_mss = c.snd_mss;
  i.rcv_mss = c.rcv_mss;
  i.snd_wnd = c.snd_wnd;
  i.rcv_wnd = c.rcv_wnd;
  i.unacked = c.unacked;
  i.send_queued = c.send_queued;
  i.recv_queued = c.recv_queued;
  i.bytes_sent = c.bytes_sent;
  i.bytes_acked = c.bytes_acked;
  i.bytes_received = c.bytes_received;
  i.segments_in = c.segments_in;
  i.segments_out = c.segments_out;
  i.retransmissions = c.retransmissions;
  i.timeouts = c.timeouts;
  i.dupacks_received = c.dupacks_received;
  i.in_recovery = c.in_recovery;
  i.recovery = !c.in_recovery ? RecoveryKind::none : c.sack_recovery ? RecoveryKind::sack : RecoveryKind::newreno;
  i.congestion = c.congestion;
  i.sack = c.sack;
  i.timestamps = c.timestamps;
  i.window_scaling = c.window_scaling;
  i.snd_wscale = c.snd_wscale;
  i.rcv_wscale = c.rcv_wscale;
  i.sacked_bytes = c.sacked_bytes;
  i.sack_blocks = c.sack_blocks;
  i.fast_retransmits = c.fast_retransmits;
  i.sack_recoveries = c.sack_recoveries;
  i.dsacks_received = c.dsacks_received;
  i.paws_drops = c.paws_drops;
  i.last_error = c.last_error;
  i.recv_buffer = c.recv_buffer;
  i.send_buffer = c.send_buffer;
  return i;
}

std::uint32_t Stack::urgent_pending(Handle h) const {
  const Slot* s = impl_->app_slot(h);
  return (s != nullptr && s->conn) ? s->conn->urgent_pending() : 0;
}

bool Stack::next_event(SocketEvent& out) {
  if (impl_->events_.empty()) return false;
  out = impl_->events_.front();
  impl_->events_.pop_front();
  return true;
}

std::vector<SocketEvent> Stack::drain_events() {
  std::vector<SocketEvent> v(impl_->events_.begin(), impl_->events_.end());
  impl_->events_.clear();
  return v;
}

const Counters& Stack::counters() const { return impl_->counters_; }
std::size_t Stack::connection_count() const { return impl_->connections_; }
std::size_t Stack::listener_count() const { return impl_->listener_count_; }
std::size_t Stack::timer_count() const { return impl_->wheel_.size() + impl_->time_wait_wheel_.size(); }

std::size_t Stack::buffered_bytes() const {
  std::size_t n = 0;
  for (const Slot& s : impl_->slots_) {
    if (s.conn) {
      const auto i = s.conn->info();
      n += i.send_queued + i.recv_queued;
    }
  }
  return n;
}

void Stack::set_trace(TraceSink* sink) { impl_->trace_ = sink; }

}  // namespace synfin

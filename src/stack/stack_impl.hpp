// Stack internals: the socket table, demultiplexing, listeners, the timer wheel, the
// transmit queue, events and counters. The public face is include/synfin/stack.hpp.
#pragma once

#include <deque>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "stack/time_wait_table.hpp"
#include "stack/timer_wheel.hpp"
#include "stack/tuple_map.hpp"
#include "synfin/stack.hpp"
#include "tcp/connection.hpp"
#include "wire/icmp.hpp"

namespace synfin {

struct ListenerState {
  Ipv4Addr addr;
  std::uint16_t port = 0;
  std::uint32_t backlog = 0;
  std::deque<std::uint32_t> accept_queue;  // established children waiting for accept()
  std::uint32_t syn_queue = 0;             // children in SYN-RECEIVED
  SocketOptions child_options;             // applied to each connection it spawns
};

inline constexpr std::uint32_t kNoSlot = 0xffffffffu;
// In the deferred-ACK list, an index with this bit names a TIME-WAIT record, not a slot.
inline constexpr std::uint32_t kTimeWaitTag = 0x80000000u;

struct Slot {
  enum class Kind : std::uint8_t { free, listener, connection };
  std::unique_ptr<tcp::Connection> conn;
  std::unique_ptr<ListenerState> listener;
  tcp::FourTuple key;       // the demultiplexing key, while in_demux
  std::uint32_t generation = 1;
  std::uint32_t parent = kNoSlot;  // listener slot of a child not yet accepted
  Kind kind = Kind::free;
  bool app_owned = false;   // the application holds the handle
  bool in_demux = false;
  bool half_open = false;   // counted in the parent's syn_queue
  bool linger_zero = false;
  bool ack_queued = false;      // in the stack's deferred-ACK list
  bool unopened = false;        // made by Stack::open(), waiting for start()
  bool soft_errors = true;      // report soft errors to the application (SHLD-20)
  std::int16_t tos = -1;        // per-connection TOS/DSCP (MUST-48); -1: the stack's
};

// A packet's bytes are not zeroed when its buffer grows: every byte is written before it leaves.
template <class T>
struct NoInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using PacketBuffer = std::vector<std::uint8_t, NoInitAllocator<std::uint8_t>>;

struct Stack::Impl : tcp::ConnectionHost {
  explicit Impl(StackConfig c);

  // ConnectionHost
  void emit(tcp::Connection& c, const tcp::OutSegment& seg) override;
  void deliver(tcp::Connection& c, tcp::Event e) override;
  wire::Seq choose_isn(const tcp::FourTuple& t, Instant now) override;
  // RFC 7323 section 7.1: a secret per-tuple offset, the same for every incarnation.
  std::uint32_t timestamp_offset(const tcp::FourTuple& t) override { return isn_.keyed_hash(t, 0x54534f46); }
  void state_changed(tcp::Connection& c, TcpState from, TcpState to, StateCause why) override;
  void dropped(tcp::Connection& c, const wire::TcpSegment& seg, DropReason r) override;
  void timer_fired(tcp::Connection& c, tcp::TimerKind k) override;
  void ack_deferred(tcp::Connection& c, Instant now) override;
  storage::BufferCache* buffer_cache() override { return &buffer_cache_; }
  void flush_acks(Instant now);
  // Trace notes, for connections and TIME-WAIT records alike (idx kNoSlot: no socket).
  void note_state(const tcp::FourTuple& t, std::uint32_t idx, TcpState from, TcpState to, StateCause why);
  void note_drop(const tcp::FourTuple& t, std::uint32_t idx, const wire::TcpSegment& seg, DropReason r);
  void note_timer(std::uint32_t idx, tcp::TimerKind k);

  // TIME-WAIT in compact records (tcp/time_wait.hpp)
  void compact(std::uint32_t idx, Instant now);
  bool time_wait_input(std::uint32_t r, const wire::TcpSegment& seg, Ipv4Addr local, Instant now);
  void time_wait_ack(std::uint32_t r, Instant now);
  void time_wait_schedule(std::uint32_t r, Instant deadline, Instant now);
  void time_wait_remove(std::uint32_t r);
  void time_wait_expired(std::uint32_t r);
  bool tuple_in_use(const tcp::FourTuple& t) const {
    return demux_.find(t) != stack::TupleMap::kNone || time_wait_.find(t) != stack::TimeWaitTable::kNone;
  }

  // packet path
  void receive(std::span<const std::uint8_t> packet, Instant now);
  void tcp_input(const wire::Ipv4Packet& ip, Instant now);
  void icmp_input(const wire::Ipv4Packet& ip, Instant now);
  void listen_input(std::uint32_t lidx, const wire::TcpSegment& seg, const tcp::FourTuple& t,
                    Instant now);
  void send_reset_for(const wire::TcpSegment& seg, Ipv4Addr local, Ipv4Addr remote);
  void emit_tcp(Ipv4Addr src, Ipv4Addr dst, const tcp::OutSegment& seg, std::int16_t tos = -1);
  void emit_ip(Ipv4Addr src, Ipv4Addr dst, std::uint8_t proto,
               std::span<const std::uint8_t> payload);
  PacketBuffer& new_packet(std::size_t size);
  // Counts a drop; traced with the packet's addresses when they are known (the IP header
  // parsed). Drops of a parsed TCP segment go through note_drop, which traces the segment.
  void count_drop(DropReason r, const wire::Ipv4Header* ip = nullptr);

  // connections
  template <typename F>
  void call(std::uint32_t idx, Instant now, F&& f) {
    const std::uint32_t saved = current_;
    current_ = idx;
    now_ = now;
    f(*slots_[idx].conn);
    current_ = saved;
    after_call(idx, now);
  }
  void after_call(std::uint32_t idx, Instant now);
  std::uint32_t alloc_slot();
  void free_slot(std::uint32_t idx);
  const TcpConfig& config_for(Ipv4Addr local) const;
  Handle handle_of(std::uint32_t idx) const { return Handle{idx, slots_[idx].generation}; }
  Slot* app_slot(Handle h);
  const Slot* app_slot(Handle h) const;
  std::uint32_t find_listener(Ipv4Addr addr, std::uint16_t port) const;
  void close_listener(std::uint32_t idx, Instant now);
  Error apply_options(std::uint32_t idx, const SocketOptions& o, Instant now);
  void push_event(std::uint32_t idx, SocketEventKind k, Error e = Error::none);
  bool is_local(Ipv4Addr a) const;
  bool checksum_offloaded(Ipv4Addr local) const;
  bool is_bad_remote(Ipv4Addr a) const;
  Result<Ipv4Addr, Error> route(Ipv4Addr remote) const;
  std::uint16_t pick_ephemeral(Ipv4Addr local, Ipv4Addr remote, std::uint16_t rport);
  void trace_segment(TraceKind kind, std::uint32_t idx, Ipv4Addr src, Ipv4Addr dst,
                     const wire::TcpHeaderFields& h, const wire::TcpOptions& o,
                     std::uint32_t len, bool rtx);

  StackConfig cfg_;
  std::vector<Interface> interfaces_;
  std::deque<TcpConfig> iface_cfg_;  // per interface: the TCP config with its MTU
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  stack::TupleMap demux_;
  std::unordered_map<std::uint64_t, std::uint32_t> listeners_;
  stack::TimerWheel wheel_;
  // Connections in TIME-WAIT that no application needs any more, as compact records with
  // their 2 MSL timers on a wheel of their own (timer ids are record numbers).
  stack::TimeWaitTable time_wait_;
  stack::TimerWheel time_wait_wheel_;
  // Packets waiting for transmit(), and spent buffers kept for reuse.
  std::deque<PacketBuffer> tx_queue_;
  std::vector<PacketBuffer> tx_pool_;
  storage::BufferCache buffer_cache_;  // memory of emptied socket buffers, for reuse
  std::deque<SocketEvent> events_;
  std::vector<Handle> ack_pending_;  // connections holding an ACK until the batch is done
  Counters counters_;
  tcp::IsnGenerator isn_;
  std::mt19937_64 rng_;
  TraceSink* trace_ = nullptr;
  std::uint32_t current_ = kNoSlot;
  Instant now_{};
  std::uint16_t ip_id_ = 0;
  std::size_t connections_ = 0;
  std::size_t listener_count_ = 0;
};

}  // namespace synfin

// `synfin bench`: synfin's throughput, connection rate and memory per connection, measured
// side by side with the Linux kernel's in one run (issue 6).
//
// synfin runs two stacks in this process joined by an in-memory link that hands each packet
// straight to the other stack (no copy, as the kernel's loopback does), on real time. The
// kernel side is bench/kernel_bench.cpp, a separate program of ours using kernel sockets on
// loopback (inside private network namespaces it creates and deletes); we run it and read
// its JSON. Every load is bounded in count and in time.
#include "bench.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "runtime/clock.hpp"
#include "synfin/stack.hpp"
#include "tcp/connection.hpp"

extern char** environ;

namespace synfin::tools {

namespace {

using json = nlohmann::ordered_json;
using namespace std::chrono_literals;

// --- measuring ------------------------------------------------------------------------------

double wall_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// A progress bar on stderr, for a terminal only, once a run has taken more than a second.
class Progress {
 public:
  Progress(std::string label, bool enabled) : label_(std::move(label)), enabled_(enabled && ::isatty(2) != 0) {
    start_ = wall_seconds();
  }
  ~Progress() { done(); }
  void update(double fraction) {
    if (!enabled_) return;
    const double now = wall_seconds();
    if (now - start_ < 1.0 || now - last_ < 0.1) return;
    last_ = now;
    fraction = std::clamp(fraction, 0.0, 1.0);
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    fmt::print(stderr, "\r{:<28} [{}{}] {:3.0f} %", label_, std::string(static_cast<std::size_t>(filled), '#'),
               std::string(static_cast<std::size_t>(kWidth - filled), ' '), fraction * 100);
    drawn_ = true;
  }
  void done() {
    if (drawn_) fmt::print(stderr, "\r{:<70}\r", "");
    drawn_ = false;
  }

 private:
  std::string label_;
  bool enabled_;
  double start_ = 0;
  double last_ = 0;
  bool drawn_ = false;
};

// The bytes of every stream: a pseudo-random pattern, repeated, that the receiver checks.
class Pattern {
 public:
  static constexpr std::size_t kPeriod = 1 << 20;
  static constexpr std::size_t kMaxChunk = 256 * 1024;
  Pattern() : bytes_(kPeriod + kMaxChunk) {
    std::mt19937_64 rng(0x5eed);
    for (std::size_t i = 0; i < kPeriod; i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(bytes_.data() + i, &v, 8);
    }
    std::memcpy(bytes_.data() + kPeriod, bytes_.data(), kMaxChunk);
  }
  // Up to kMaxChunk bytes of the stream from `offset`.
  std::span<const std::uint8_t> at(std::uint64_t offset, std::size_t n) const {
    return {bytes_.data() + offset % kPeriod, std::min(n, kMaxChunk)};
  }
  bool matches(std::uint64_t offset, std::span<const std::uint8_t> got) const {
    std::size_t done = 0;
    while (done < got.size()) {
      const std::size_t n = std::min(got.size() - done, kMaxChunk);
      if (std::memcmp(bytes_.data() + (offset + done) % kPeriod, got.data() + done, n) != 0) return false;
      done += n;
    }
    return true;
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

const Pattern& pattern() {
  static const Pattern p;
  return p;
}

// --- two stacks and an in-memory link -------------------------------------------------------

const Ipv4Addr kClientAddr = Ipv4Addr::of(10, 0, 0, 1);
const Ipv4Addr kServerAddr = Ipv4Addr::of(10, 0, 0, 2);

// Hands each packet straight to the other stack, as a loopback device does. Packets larger
// than the MTU are dropped and counted (there should be none).
class DirectLink : public PacketSink {
 public:
  DirectLink(Stack& to, std::uint16_t mtu) : to_(&to), mtu_(mtu) {}
  void send_packet(std::span<const std::uint8_t> packet, Instant now) override {
    if (packet.size() > mtu_) {
      ++mtu_drops;
      return;
    }
    ++packets;
    to_->receive(packet, now);
  }
  std::uint64_t packets = 0;
  std::uint64_t mtu_drops = 0;

 private:
  Stack* to_;
  std::uint16_t mtu_;
};

StackConfig stack_config(const char* name, std::uint64_t seed) {
  StackConfig c;
  c.name = name;
  c.seed = seed;
  std::mt19937_64 rng(seed * 7919);
  for (auto& b : c.secret) b = static_cast<std::uint8_t>(rng());
  c.ephemeral_low = 1024;
  return c;
}

struct Pair {
  explicit Pair(std::uint16_t mtu, const TcpConfig& tcp = TcpConfig{}, bool checksum_offload = false) {
    StackConfig cc = stack_config("client", 1);
    StackConfig sc = stack_config("server", 2);
    cc.tcp = tcp;
    sc.tcp = tcp;
    if (const char* e = std::getenv("SYNFIN_BENCH_MAXBUF")) {
      cc.tcp.max_send_buffer = cc.tcp.max_recv_buffer = sc.tcp.max_send_buffer = sc.tcp.max_recv_buffer =
          static_cast<std::uint32_t>(std::atoi(e));
    }
    client = std::make_unique<Stack>(cc);
    server = std::make_unique<Stack>(sc);
    client->add_interface({kClientAddr, 24, mtu, checksum_offload});
    server->add_interface({kServerAddr, 24, mtu, checksum_offload});
    to_server = std::make_unique<DirectLink>(*server, mtu);
    to_client = std::make_unique<DirectLink>(*client, mtu);
  }
  // Moves packets until neither side has anything to send.
  void pump(Instant now) {
    for (int round = 0; round < 64; ++round) {
      if (client->pending_packets() == 0 && server->pending_packets() == 0) return;
      client->transmit(*to_server, now);
      server->transmit(*to_client, now);
    }
  }
  void poll_due(Instant now) {
    if (client->next_deadline() <= now) client->poll(now);
    if (server->next_deadline() <= now) server->poll(now);
  }
  // Lets every timer run out (TIME-WAIT included): the stacks are fed a time far ahead.
  bool drain(Instant now) {
    for (int i = 0; i < 64 && (client->timer_count() + server->timer_count()) > 0; ++i) {
      now += 10min;
      client->poll(now);
      server->poll(now);
      pump(now);
    }
    return client->connection_count() == 0 && server->connection_count() == 0 &&
           client->timer_count() == 0 && server->timer_count() == 0;
  }
  std::unique_ptr<Stack> client;
  std::unique_ptr<Stack> server;
  std::unique_ptr<DirectLink> to_server;
  std::unique_ptr<DirectLink> to_client;
};

// --- throughput -----------------------------------------------------------------------------

struct Throughput {
  bool ok = false;
  std::string error;
  double gbps = 0;
  double cpu_s_per_gb = 0;
  std::uint64_t bytes = 0;
  std::uint64_t packets = 0;
  double sender_cpu_s = 0, receiver_cpu_s = 0;  // two-thread runs: each thread's CPU time
};

Throughput synfin_throughput(std::uint16_t mtu, std::uint64_t total, bool progress) {
  Throughput out;
  runtime::Clock clock;
  Pair p(mtu);
  Instant now = clock.now();
  auto listener = p.server->listen(Ipv4Addr{}, 5001, 16);
  auto c = p.client->connect(kServerAddr, 5001, now);
  if (!listener || !c) {
    out.error = "listen or connect failed";
    return out;
  }
  p.pump(now);
  auto s = p.server->accept(*listener);
  if (!s) {
    out.error = "handshake did not complete";
    return out;
  }
  const Pattern& pat = pattern();
  std::vector<std::uint8_t> buf(Pattern::kMaxChunk);
  std::uint64_t sent = 0, received = 0;
  bool shut = false, eof = false, bad = false;
  Progress bar(fmt::format("synfin throughput mtu {}", mtu), progress);
  const double wall0 = wall_seconds(), cpu0 = cpu_seconds();
  const double deadline = wall0 + 120;
  SocketEvent ev;
  std::uint64_t iterations = 0;
  while (!eof && !bad) {
    now = clock.now();
    while (sent < total) {
      auto r = p.client->send(*c, pat.at(sent, total - sent), now);
      if (!r || *r == 0) break;
      sent += *r;
    }
    if (sent == total && !shut) {
      (void)p.client->close(*c, now);
      shut = true;
    }
    p.client->transmit(*p.to_server, now);
    while (true) {
      auto r = p.server->recv(*s, buf, now);
      if (!r) break;
      if (*r == 0) {
        eof = true;
        break;
      }
      if (!pat.matches(received, std::span(buf.data(), *r))) bad = true;
      received += *r;
    }
    p.server->transmit(*p.to_client, now);
    while (p.client->next_event(ev)) {
    }
    while (p.server->next_event(ev)) {
    }
    p.poll_due(now);
    if ((++iterations & 255) == 0) {
      bar.update(static_cast<double>(received) / static_cast<double>(total));
      if (wall_seconds() > deadline) break;
    }
  }
  const double wall = wall_seconds() - wall0, cpu = cpu_seconds() - cpu0;
  bar.done();
  (void)p.server->close(*s, now);
  p.pump(now);
  const bool closed = p.drain(now);
  out.bytes = received;
  out.packets = p.to_server->packets + p.to_client->packets;
  out.gbps = static_cast<double>(received) * 8 / wall / 1e9;
  out.cpu_s_per_gb = cpu / (static_cast<double>(received) / 1e9);
  if (bad) out.error = "received bytes differ from those sent";
  else if (received != total || !eof) out.error = fmt::format("received {} of {} bytes", received, total);
  else if (p.to_server->mtu_drops + p.to_client->mtu_drops > 0) out.error = "packets larger than the MTU";
  else if (!closed) out.error = "connections or timers left after close";
  else out.ok = true;
  return out;
}

// The same transfer with one stack per core (DESIGN principle 5): the client stack and the
// sender on one thread, the server stack and the receiver on another, joined by a link of
// two single-producer single-consumer rings. The link copies each packet into a ring slot
// once, as a device does into its queue; a packet that finds its ring full waits in a local
// queue of the sending thread, so nothing is lost and no thread blocks inside a stack.
//
// The copy into the ring is made with non-temporal stores, the way a device's DMA writes
// land in memory rather than in the sending core's cache. The slot's lines were last read
// by the other core: ordinary stores would first fetch each line from there (an RFO) only to
// overwrite it, and how much that costs depends on where the host happens to place the two
// vCPUs (the two-thread figure swung between about 15 and 45 Gbit/s from run to run; with
// streaming stores it held at about 37). Streaming stores are weakly ordered, so packets
// become visible in batches: publish() fences, then moves the tail.
class Ring {
 public:
  // `slots` is a power of two.
  Ring(std::size_t slots, std::size_t slot_bytes)
      : slots_(slots), slot_bytes_(slot_bytes), lengths_(slots), bytes_(slots * slot_bytes + kAlign) {}
  // Copies the packet into the next slot; it is not visible to the consumer until publish().
  bool push(std::span<const std::uint8_t> p) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed) + unpublished_;
    if (tail - head_cache_ == slots_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == slots_) return false;
    }
    const std::size_t i = tail & (slots_ - 1);
    stream_copy(slot(i), p.data(), p.size());
    lengths_[i] = static_cast<std::uint32_t>(p.size());
    ++unpublished_;
    return true;
  }
  // Makes the packets pushed so far visible to the consumer.
  void publish() {
    if (unpublished_ == 0) return;
#if defined(__x86_64__)
    _mm_sfence();  // the streaming stores are globally visible before the tail moves
#endif
    tail_.store(tail_.load(std::memory_order_relaxed) + unpublished_, std::memory_order_release);
    unpublished_ = 0;
  }
  // The oldest packet, or an empty span; pop() lets it go.
  std::span<const std::uint8_t> front() {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return {};
    }
    const std::size_t i = head & (slots_ - 1);
    return {slot(i), lengths_[i]};
  }
  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  // Starts loading the packet after the oldest one, if it has arrived, as a NIC driver
  // prefetches the next descriptor's data: the streaming stores left it in memory, and the
  // stack would otherwise wait for each line of it while verifying the checksum.
  void prefetch_next() {
    const std::size_t next = head_.load(std::memory_order_relaxed) + 1;
    if (next >= tail_cache_) return;
    const std::uint8_t* p = slot(next & (slots_ - 1));
    const std::size_t n = lengths_[next & (slots_ - 1)];
    for (std::size_t off = 0; off < n; off += 64) __builtin_prefetch(p + off);
  }

 private:
  static constexpr std::size_t kAlign = 64;  // slots start on cache lines (slot_bytes is a multiple)
  std::uint8_t* slot(std::size_t i) {
    const auto base = (reinterpret_cast<std::uintptr_t>(bytes_.data()) + kAlign - 1) & ~std::uintptr_t{kAlign - 1};
    return reinterpret_cast<std::uint8_t*>(base) + i * slot_bytes_;
  }
#if defined(__x86_64__)
  __attribute__((target("avx2"))) static std::size_t stream_avx2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
    const std::size_t whole = n / 32;
    for (std::size_t k = 0; k < whole; ++k) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst) + k, _mm256_loadu_si256(reinterpret_cast<const __m256i_u*>(src) + k));
    }
    return whole * 32;
  }
  static std::size_t stream_sse2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
    const std::size_t whole = n / 16;
    for (std::size_t k = 0; k < whole; ++k) {
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst) + k, _mm_loadu_si128(reinterpret_cast<const __m128i_u*>(src) + k));
    }
    return whole * 16;
  }
#endif
  // dst is 64-byte aligned; the last partial vector goes through the cache.
  static void stream_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
    std::size_t done = 0;
#if defined(__x86_64__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    done = avx2 ? stream_avx2(dst, src, n) : stream_sse2(dst, src, n);
#endif
    std::memcpy(dst + done, src + done, n - done);
  }

  const std::size_t slots_;
  const std::size_t slot_bytes_;
  std::vector<std::uint32_t> lengths_;
  std::vector<std::uint8_t> bytes_;
  std::size_t unpublished_ = 0;  // the producer's: pushed, not yet visible
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::size_t tail_cache_ = 0;  // the consumer's
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::size_t head_cache_ = 0;  // the producer's
};

class RingPort : public PacketSink {
 public:
  RingPort(Ring& out, std::uint16_t mtu) : out_(&out), mtu_(mtu) {}
  void send_packet(std::span<const std::uint8_t> packet, Instant) override {
    if (packet.size() > mtu_) {
      ++mtu_drops;
      return;
    }
    ++packets;
    if (!backlog_.empty() || !out_->push(packet)) backlog_.emplace_back(packet.begin(), packet.end());
  }
  // Makes what was sent visible on the other side (after each transmit).
  void publish() { out_->publish(); }
  // Moves waiting packets into the ring as it makes room, and publishes them.
  void flush() {
    while (!backlog_.empty() && out_->push(backlog_.front())) backlog_.pop_front();
    out_->publish();
  }
  std::uint64_t packets = 0;
  std::uint64_t mtu_drops = 0;

 private:
  Ring* out_;
  std::uint16_t mtu_;
  std::deque<std::vector<std::uint8_t>> backlog_;
};

// A thread with nothing to do spins a little, then lets others run: on a busy machine a
// spinning thread would hold the core its peer needs.
struct Idle {
  int spins = 0;
  std::uint64_t idle_rounds = 0, busy_rounds = 0;
  double busy_s = 0, round_start = wall_seconds();
  void reset() {
    spins = 0;
    ++busy_rounds;
    const double t = wall_seconds();
    busy_s += t - round_start;
    round_start = t;
  }
  void wait() {
    round_start = wall_seconds();
    ++idle_rounds;
    if (++spins < 64) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
};

Throughput synfin_throughput_threaded(std::uint16_t mtu, std::uint64_t total, bool progress,
                                      bool checksum_offload = false) {
  // Packets taken from the ring per round before the application and the stack's transmit
  // run (a driver's poll budget): the ACK for a batch goes out while the sender still has
  // window, and one round never starves the other work.
  constexpr int kBudget = 64;
  Throughput out;
  runtime::Clock clock;
  Pair p(mtu, TcpConfig{}, checksum_offload);
  Instant now = clock.now();
  auto listener = p.server->listen(Ipv4Addr{}, 5001, 16);
  auto c = p.client->connect(kServerAddr, 5001, now);
  if (!listener || !c) {
    out.error = "listen or connect failed";
    return out;
  }
  p.pump(now);
  auto s = p.server->accept(*listener);
  if (!s) {
    out.error = "handshake did not complete";
    return out;
  }
  const std::size_t slot = (std::size_t{mtu} + 63) / 64 * 64;
  // About 8 MB of slots, a power of two of them (the index is a mask).
  const std::size_t bytes_wanted = std::getenv("SYNFIN_BENCH_RING") ? std::strtoull(std::getenv("SYNFIN_BENCH_RING"), nullptr, 10) : (8u << 20);
  const std::size_t slots = std::bit_floor(std::max<std::size_t>(64, bytes_wanted / slot));
  Ring to_server(slots, slot), to_client(slots, slot);
  RingPort client_port(to_server, mtu), server_port(to_client, mtu);
  const Pattern& pat = pattern();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> received{0};
  bool bad = false, eof = false;
  Progress bar(fmt::format("synfin throughput mtu {}, 2 threads{}", mtu, checksum_offload ? ", offload" : ""),
               progress);
  const double wall0 = wall_seconds(), cpu0 = cpu_seconds();
  const double deadline = wall0 + 120;
  std::thread sender([&] {
    pthread_setname_np(pthread_self(), "synfin-sender");
    std::uint64_t sent = 0;
    bool shut = false;
    SocketEvent ev;
    Idle idle;
    while (!stop.load(std::memory_order_relaxed)) {
      const Instant t = clock.now();
      bool busy = false;
      for (int k = 0; k < kBudget; ++k) {
        const auto pkt = to_client.front();
        if (pkt.empty()) break;
        p.client->receive(pkt, t);
        to_client.pop();
        busy = true;
        // What an ACK released leaves at once, while its packets are still in the cache,
        // rather than after a whole batch of ACKs has built a window's worth of packets.
        p.client->transmit(client_port, t);
        client_port.publish();
      }
      while (sent < total) {
        auto r = p.client->send(*c, pat.at(sent, total - sent), t);
        if (!r || *r == 0) break;
        sent += *r;
        busy = true;
        p.client->transmit(client_port, t);  // likewise, the segments of each write
        client_port.publish();
      }
      if (sent == total && !shut) {
        (void)p.client->close(*c, t);
        shut = true;
      }
      if (p.client->transmit(client_port, t) > 0) busy = true;
      client_port.flush();
      while (p.client->next_event(ev)) {
      }
      if (p.client->next_deadline() <= t) p.client->poll(t);
      if (busy) idle.reset();
      else idle.wait();
    }
    out.sender_cpu_s = thread_cpu_seconds();
    if (std::getenv("SYNFIN_BENCH_DEBUG") != nullptr)
      fmt::print(stderr, "sender: busy {} idle {} busy {:.3f} s\n", idle.busy_rounds, idle.idle_rounds, idle.busy_s);
  });
  std::thread receiver([&] {
    pthread_setname_np(pthread_self(), "synfin-receiver");
    std::vector<std::uint8_t> buf(Pattern::kMaxChunk);
    std::uint64_t got = 0, iterations = 0;
    SocketEvent ev;
    Idle idle;
    while (!eof && !bad) {
      const Instant t = clock.now();
      bool busy = false;
      for (int k = 0; k < kBudget; ++k) {
        const auto pkt = to_server.front();
        if (pkt.empty()) break;
        to_server.prefetch_next();
        p.server->receive(pkt, t);
        to_server.pop();
        busy = true;
      }
      while (true) {
        auto r = p.server->recv(*s, buf, t);
        if (!r) break;
        if (*r == 0) {
          eof = true;
          break;
        }
        if (!pat.matches(got, std::span(buf.data(), *r))) bad = true;
        got += *r;
      }
      p.server->transmit(server_port, t);
      server_port.flush();
      while (p.server->next_event(ev)) {
      }
      if (p.server->next_deadline() <= t) p.server->poll(t);
      if (busy) idle.reset();
      else idle.wait();
      if ((++iterations & 255) == 0) {
        bar.update(static_cast<double>(got) / static_cast<double>(total));
        if (wall_seconds() > deadline) break;
      }
    }
    received = got;
    out.receiver_cpu_s = thread_cpu_seconds();
    if (std::getenv("SYNFIN_BENCH_DEBUG") != nullptr)
      fmt::print(stderr, "receiver: busy {} idle {} busy {:.3f} s wall {:.3f}\n", idle.busy_rounds, idle.idle_rounds, idle.busy_s, wall_seconds() - wall0);
  });
  receiver.join();
  const double wall = wall_seconds() - wall0, cpu = cpu_seconds() - cpu0;
  stop = true;
  sender.join();
  if (std::getenv("SYNFIN_BENCH_DEBUG") != nullptr) {
    const auto& cc = p.client->counters();
    const auto& sc = p.server->counters();
    const auto si = *p.server->info(*s);
    fmt::print(stderr, "client: segs out {} in {} rtx {}; server segs out {} in {} drops {} rcvbuf {} srtt {}\n",
               cc.segments_out, cc.segments_in, cc.retransmissions, sc.segments_out, sc.segments_in,
               sc.total_drops(), si.recv_buffer, si.srtt.count());
  }
  bar.done();
  // Back to one thread: deliver what is still in the rings, then close.
  now = clock.now();
  for (int round = 0; round < 8; ++round) {
    for (auto pkt = to_server.front(); !pkt.empty(); pkt = to_server.front()) {
      p.server->receive(pkt, now);
      to_server.pop();
    }
    for (auto pkt = to_client.front(); !pkt.empty(); pkt = to_client.front()) {
      p.client->receive(pkt, now);
      to_client.pop();
    }
    client_port.flush();
    server_port.flush();
  }
  (void)p.server->close(*s, now);
  p.pump(now);
  const bool closed = p.drain(now);
  out.bytes = received;
  out.packets = client_port.packets + server_port.packets;
  out.gbps = static_cast<double>(out.bytes) * 8 / wall / 1e9;
  out.cpu_s_per_gb = cpu / (static_cast<double>(out.bytes) / 1e9);
  if (bad) out.error = "received bytes differ from those sent";
  else if (out.bytes != total || !eof) out.error = fmt::format("received {} of {} bytes", out.bytes, total);
  else if (client_port.mtu_drops + server_port.mtu_drops > 0) out.error = "packets larger than the MTU";
  else if (!closed) out.error = "connections or timers left after close";
  else out.ok = true;
  return out;
}

// --- connection rate ------------------------------------------------------------------------

struct ConnRate {
  bool ok = false;
  std::string error;
  double per_s = 0;
  std::uint64_t lifetimes = 0;
  std::uint64_t timewait_at_end = 0;
};

constexpr std::size_t kMessage = 100;
constexpr std::size_t kConcurrent = 256;

// Whole lifetimes: connect, a 100-byte request, a 100-byte response, the server closes first
// (and holds TIME-WAIT), the client closes on end of stream. Counted once the client's side
// is gone, which is after the server's ACK of its FIN.
ConnRate synfin_connrate(std::uint64_t n, bool progress) {
  ConnRate out;
  runtime::Clock clock;
  Pair p(1500);
  Instant now = clock.now();
  auto listener = p.server->listen(Ipv4Addr{}, 80, 65535);
  if (!listener) {
    out.error = "listen failed";
    return out;
  }
  const Pattern& pat = pattern();
  // Bytes received per socket, by handle index (a generation change resets it).
  struct Seen {
    std::uint32_t generation = 0;
    std::uint32_t got = 0;
  };
  std::vector<Seen> client_seen, server_seen;
  auto seen = [](std::vector<Seen>& v, Handle h) -> std::uint32_t& {
    if (h.index >= v.size()) v.resize(h.index + 1024);
    if (v[h.index].generation != h.generation) v[h.index] = Seen{h.generation, 0};
    return v[h.index].got;
  };
  std::uint8_t buf[512];
  std::uint64_t started = 0, failures = 0, bad = 0;
  Progress bar("synfin connrate", progress);
  const double wall0 = wall_seconds();
  const double deadline = wall0 + 120;
  SocketEvent ev;
  while (true) {
    now = clock.now();
    while (p.client->connection_count() < kConcurrent && started < n) {
      if (!p.client->connect(kServerAddr, 80, now)) {
        ++failures;
        break;
      }
      ++started;
    }
    p.pump(now);
    while (p.server->next_event(ev)) {
      if (ev.kind == SocketEventKind::accept_ready) {
        while (auto a = p.server->accept(*listener)) (void)a;
        continue;
      }
      if (ev.kind == SocketEventKind::reset || (ev.kind == SocketEventKind::closed && ev.error != Error::none)) {
        ++failures;
        continue;
      }
      if (ev.kind != SocketEventKind::readable) continue;
      std::uint32_t& got = seen(server_seen, ev.socket);
      while (got < kMessage) {
        auto r = p.server->recv(ev.socket, std::span(buf, kMessage - got), now);
        if (!r || *r == 0) break;
        if (!pat.matches(got, std::span(buf, *r))) ++bad;
        got += *r;
      }
      if (got == kMessage) {
        got = kMessage + 1;  // answered
        (void)p.server->send(ev.socket, pat.at(kMessage, kMessage), now);
        (void)p.server->close(ev.socket, now);  // the server closes first
      }
    }
    while (p.client->next_event(ev)) {
      switch (ev.kind) {
        case SocketEventKind::connected:
          (void)p.client->send(ev.socket, pat.at(0, kMessage), now);
          break;
        case SocketEventKind::readable:
        case SocketEventKind::peer_closed: {
          std::uint32_t& got = seen(client_seen, ev.socket);
          while (true) {
            auto r = p.client->recv(ev.socket, std::span(buf, sizeof buf), now);
            if (!r) break;
            if (*r == 0) {
              if (got != kMessage) ++bad;
              (void)p.client->close(ev.socket, now);
              break;
            }
            if (got + *r > kMessage || !pat.matches(kMessage + got, std::span(buf, *r))) ++bad;
            got += *r;
          }
          break;
        }
        case SocketEventKind::reset:
        case SocketEventKind::closed:
          if (ev.error != Error::none) ++failures;
          break;
        default:
          break;
      }
    }
    p.pump(now);
    p.poll_due(now);
    const std::uint64_t done = started - p.client->connection_count();
    bar.update(static_cast<double>(done) / static_cast<double>(n));
    if (done >= n || wall_seconds() > deadline) break;
  }
  const double wall = wall_seconds() - wall0;
  bar.done();
  out.lifetimes = started - p.client->connection_count();
  out.per_s = static_cast<double>(out.lifetimes) / wall;
  const auto& by_state = p.server->counters().connections_by_state;
  out.timewait_at_end = by_state[static_cast<std::size_t>(TcpState::time_wait)];
  std::uint64_t others = 0;
  for (std::size_t i = 0; i < by_state.size(); ++i)
    if (i != static_cast<std::size_t>(TcpState::time_wait)) others += by_state[i];
  (void)p.server->close(*listener, now);
  const bool closed = p.drain(now);
  if (bad > 0) out.error = fmt::format("{} messages differ from those sent", bad);
  else if (failures > 0) out.error = fmt::format("{} connections failed", failures);
  else if (out.lifetimes < n) out.error = fmt::format("only {} of {} lifetimes finished in time", out.lifetimes, n);
  else if (others > 0) out.error = fmt::format("{} server connections neither closed nor in TIME-WAIT", others);
  else if (!closed) out.error = "connections or timers left after TIME-WAIT";
  else out.ok = true;
  return out;
}

// --- memory ---------------------------------------------------------------------------------

struct Memory {
  bool ok = false;
  std::string error;
  std::uint64_t n = 0;
  std::uint64_t rss_growth = 0;         // both stacks
  double bytes_per_idle_conn = 0;       // per connection per stack
  std::uint64_t rss_per_stack = 0;      // growth / 2
};

// The 4-tuple of connection i: 64,000 client ports per server port.
constexpr std::uint32_t kPortsPerServerPort = 64000;
std::uint16_t client_port(std::uint64_t i) { return static_cast<std::uint16_t>(1024 + i % kPortsPerServerPort); }
std::uint16_t server_port(std::uint64_t i) { return static_cast<std::uint16_t>(6000 + i / kPortsPerServerPort); }

// Opens connections [first, last) and waits until the server has accepted them all.
bool open_idle(Pair& p, runtime::Clock& clock, std::uint64_t first, std::uint64_t last,
               std::vector<Handle>& listeners, std::vector<Handle>* clients, std::vector<Handle>* servers,
               Progress* bar, std::uint64_t total) {
  constexpr std::uint64_t kBatch = 1000;  // within a listener's SYN backlog
  SocketEvent ev;
  for (std::uint64_t i = first; i < last;) {
    Instant now = clock.now();
    const std::uint64_t end = std::min(last, i + kBatch);
    for (; i < end; ++i) {
      const std::size_t l = server_port(i) - 6000;
      while (listeners.size() <= l) {
        auto h = p.server->listen(Ipv4Addr{}, static_cast<std::uint16_t>(6000 + listeners.size()), 65535);
        if (!h) return false;
        listeners.push_back(*h);
      }
      ConnectOptions o;
      o.local_port = client_port(i);
      auto h = p.client->connect(kServerAddr, server_port(i), now, o);
      if (!h) return false;
      if (clients != nullptr) clients->push_back(*h);
    }
    p.pump(now);
    while (p.client->next_event(ev)) {
    }
    while (p.server->next_event(ev)) {
      if (ev.kind != SocketEventKind::accept_ready) continue;
      while (auto a = p.server->accept(ev.socket)) {
        if (servers != nullptr) servers->push_back(*a);
      }
    }
    if (bar != nullptr) bar->update(static_cast<double>(i) / static_cast<double>(total));
  }
  return true;
}

Memory synfin_memory(std::uint64_t n, bool progress) {
  Memory out;
  out.n = n;
  runtime::Clock clock;
  Pair p(1500);
  std::vector<Handle> listeners, clients, servers;
  clients.reserve(n);
  servers.reserve(n);
  Progress bar(fmt::format("synfin memory {} idle", n), progress);
  const std::uint64_t before = rss_bytes();
  if (!open_idle(p, clock, 0, n, listeners, &clients, &servers, &bar, n)) {
    out.error = "could not open the connections";
    return out;
  }
  // The handle vectors are the application's, not the stacks': leave them out.
  const std::uint64_t app = (clients.capacity() + servers.capacity()) * sizeof(Handle);
  const std::uint64_t after = rss_bytes();
  bar.done();
  out.rss_growth = after > before + app ? after - before - app : 0;
  out.bytes_per_idle_conn = static_cast<double>(out.rss_growth) / 2.0 / static_cast<double>(n);
  out.rss_per_stack = out.rss_growth / 2;
  const auto& cs = p.client->counters().connections_by_state;
  const auto& ss = p.server->counters().connections_by_state;
  const auto est = static_cast<std::size_t>(TcpState::established);
  if (cs[est] != n || ss[est] != n || servers.size() != n) {
    out.error = fmt::format("{} and {} of {} connections established", cs[est], ss[est], n);
    return out;
  }
  // Close them all: the clients first this time, so that TIME-WAIT is on the client side.
  Instant now = clock.now();
  for (Handle h : clients) (void)p.client->close(h, now);
  p.pump(now);
  for (Handle h : servers) (void)p.server->close(h, now);
  p.pump(now);
  for (Handle h : listeners) (void)p.server->close(h, now);
  if (!p.drain(now)) {
    out.error = "connections or timers left after closing";
    return out;
  }
  out.ok = true;
  return out;
}

struct TimeWait {
  bool ok = false;
  std::string error;
  std::uint64_t n = 0;
  double bytes_per_timewait = 0;
};

// Connections go through their whole lifetime in waves, the server closing first, so that
// TIME-WAIT piles up on the server while the full connections of each wave are freed and
// reused by the next. The growth of the process from the end of the first wave to the end of
// the last, divided by the TIME-WAIT connections added, is what one costs.
TimeWait synfin_timewait(std::uint64_t n, bool progress) {
  TimeWait out;
  runtime::Clock clock;
  Pair p(1500);
  std::vector<Handle> listeners, servers;
  const std::uint64_t wave = std::min<std::uint64_t>(n / 4, 20000);
  out.n = n - wave;
  Progress bar(fmt::format("synfin TIME-WAIT {}", n), progress);
  std::uint64_t rss_first = 0;
  SocketEvent ev;
  for (std::uint64_t first = 0; first < n; first += wave) {
    servers.clear();
    if (!open_idle(p, clock, first, std::min(n, first + wave), listeners, nullptr, &servers, nullptr, n)) {
      out.error = "could not open the connections";
      return out;
    }
    Instant now = clock.now();
    for (Handle h : servers) (void)p.server->close(h, now);
    p.pump(now);
    while (p.client->next_event(ev)) {
      if (ev.kind == SocketEventKind::peer_closed) (void)p.client->close(ev.socket, now);
    }
    p.pump(now);
    if (p.client->connection_count() != 0) {
      out.error = fmt::format("{} client connections still open", p.client->connection_count());
      return out;
    }
    if (first == 0) rss_first = rss_bytes();
    bar.update(static_cast<double>(first + wave) / static_cast<double>(n));
  }
  const std::uint64_t rss_last = rss_bytes();
  bar.done();
  const auto tw = p.server->counters().connections_by_state[static_cast<std::size_t>(TcpState::time_wait)];
  if (tw != n) {
    out.error = fmt::format("{} of {} connections in TIME-WAIT", tw, n);
    return out;
  }
  out.bytes_per_timewait =
      static_cast<double>(rss_last > rss_first ? rss_last - rss_first : 0) / static_cast<double>(out.n);
  Instant now = clock.now();
  for (Handle h : listeners) (void)p.server->close(h, now);
  if (!p.drain(now)) {
    out.error = "connections or timers left after TIME-WAIT";
    return out;
  }
  out.ok = true;
  return out;
}

// --- the kernel side ------------------------------------------------------------------------

std::string self_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::string find_kernel_program(const BenchOptions& o) {
  if (!o.kernel_program.empty()) return o.kernel_program;
  if (const char* e = std::getenv("SYNFIN_KERNEL_BENCH")) return e;
  const std::string dir = self_dir();
  std::vector<std::string> candidates = {dir + "/bench/synfin-kernel-bench", dir + "/synfin-kernel-bench"};
#ifdef SYNFIN_KERNEL_BENCH_PATH
  candidates.insert(candidates.begin(), SYNFIN_KERNEL_BENCH_PATH);
#endif
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return c;
  return {};
}

// Runs `program` with `args`; its stdout is one JSON object. Bounded in time.
json run_json_program(const std::string& program, const std::vector<std::string>& args, double timeout_s) {
  if (program.empty()) return json{{"error", "synfin-kernel-bench not found (build it, or pass --kernel-program)"}};
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return json{{"error", "pipe failed"}};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  std::vector<std::string> all = {program};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, program.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return json{{"error", fmt::format("cannot run {}: {}", program, std::strerror(rc))}};
  }
  std::string text;
  const double end = wall_seconds() + timeout_s;
  bool timed_out = false;
  while (true) {
    const double left = end - wall_seconds();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{out[0], POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::min(left, 1.0) * 1000) + 1) <= 0) continue;
    char buf[4096];
    const ssize_t got = ::read(out[0], buf, sizeof buf);
    if (got <= 0) break;
    text.append(buf, static_cast<std::size_t>(got));
  }
  ::close(out[0]);
  if (timed_out) ::kill(pid, SIGTERM);  // it deletes its namespace on SIGTERM
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out) return json{{"error", program + " took too long"}};
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json{{"error", program + " printed no result"}};
  return j;
}

// --- reporting ------------------------------------------------------------------------------

json machine_info() {
  json m;
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      m["cpu"] = colon == std::string::npos ? line : line.substr(colon + 2);
      break;
    }
  }
  m["cores"] = std::thread::hardware_concurrency();
  utsname u{};
  if (::uname(&u) == 0) m["kernel"] = fmt::format("{} {}", u.sysname, u.release);
  return m;
}

std::optional<double> num(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string cell(std::optional<double> v, int decimals) {
  if (!v) return "n/a";
  if (decimals == 0) {
    // thousands separators for big counts
    auto s = fmt::format("{:.0f}", *v);
    for (int i = static_cast<int>(s.size()) - 3; i > 0 && s[static_cast<std::size_t>(i) - 1] != '-'; i -= 3)
      s.insert(static_cast<std::size_t>(i), ",");
    return s;
  }
  return fmt::format("{:.{}f}", *v, decimals);
}

struct Row {
  const char* label;
  const char* key;
  int decimals;
  bool ratio;
};

constexpr Row kRows[] = {
    {"throughput, MTU 1500 (Gbit/s)", "throughput_gbps_mtu1500", 2, true},
    {"throughput, MTU 65535 (Gbit/s)", "throughput_gbps_mtu65535", 2, true},
    {"  one thread for both stacks, MTU 1500", "throughput_gbps_mtu1500_one_thread", 2, false},
    {"  link with checksum offload, MTU 1500", "throughput_gbps_mtu1500_checksum_offload", 2, false},
    {"  one thread for both stacks, MTU 65535", "throughput_gbps_mtu65535_one_thread", 2, false},
    {"CPU seconds per GB, MTU 1500", "cpu_s_per_gb_mtu1500", 3, false},
    {"CPU seconds per GB, MTU 65535", "cpu_s_per_gb_mtu65535", 3, false},
    {"connection lifetimes per second", "connrate_per_s", 0, true},
    {"control block (bytes)", "tcb_bytes", 0, false},
    {"idle connection, all-in (bytes)", "bytes_per_idle_conn", 0, false},
    {"  the same with 1,000,000 idle (bytes)", "bytes_per_idle_conn_1m", 0, false},
    {"RSS of 1,000,000 idle, per stack (MiB)", "rss_mib_1m_idle", 0, false},
    {"TIME-WAIT connection (bytes)", "bytes_per_timewait", 0, false},
};

void print_table(const json& report) {
  const json& m = report["machine"];
  fmt::print("synfin bench: synfin and the Linux kernel side by side ({}, {} cores, {})\n\n",
             m.value("cpu", std::string("?")), m.value("cores", 0), m.value("kernel", std::string("?")));
  fmt::print("{:<40} {:>14} {:>14} {:>9}\n", "", "synfin", "kernel", "ratio");
  for (const Row& r : kRows) {
    const auto s = num(report["synfin"], r.key);
    const auto k = num(report["kernel"], r.key);
    if (!s && !k) continue;
    std::string ratio;
    if (r.ratio && s && k && *k > 0) ratio = fmt::format("{:.2f} x", *s / *k);
    fmt::print("{:<40} {:>14} {:>14} {:>9}\n", r.label, cell(s, r.decimals), cell(k, r.decimals), ratio);
  }
  if (report.contains("notes")) {
    fmt::print("\n");
    for (const auto& n : report["notes"]) fmt::print("note: {}\n", n.get<std::string>());
  }
  if (report.contains("bar")) {
    fmt::print("\nthe first performance bar (issue 6):\n");
    for (const auto& b : report["bar"]) {
      fmt::print("  [{}] {}\n", b["met"].is_null() ? " ?  " : (b["met"].get<bool>() ? " ok " : "FAIL"),
                 b["what"].get<std::string>());
    }
  }
  if (report.contains("errors")) {
    fmt::print("\n");
    for (const auto& e : report["errors"]) fmt::print("error: {}\n", e.get<std::string>());
  }
}

void add_bar(json& report) {
  const json& s = report["synfin"];
  const json& k = report["kernel"];
  json bar = json::array();
  auto item = [&](std::string what, std::optional<bool> met) {
    bar.push_back(json{{"what", std::move(what)}, {"met", met ? json(*met) : json(nullptr)}});
  };
  auto ratio = [&](const char* key) -> std::optional<double> {
    auto a = num(s, key), b = num(k, key);
    if (!a || !b || *b <= 0) return std::nullopt;
    return *a / *b;
  };
  if (auto r = ratio("connrate_per_s")) item(fmt::format("connrate >= 10 x the kernel's: {:.1f} x", *r), *r >= 10);
  if (auto r = ratio("throughput_gbps_mtu1500"))
    item(fmt::format("throughput at MTU 1500, checksums computed, >= 1.5 x the kernel's: {:.2f} x", *r), *r >= 1.5);
  if (auto v = num(s, "tcb_bytes")) item(fmt::format("control block <= 512 bytes: {:.0f}", *v), *v <= 512);
  if (auto v = num(s, "bytes_per_idle_conn"))
    item(fmt::format("idle established connection <= 1 KiB all-in: {:.0f} bytes", *v), *v <= 1024);
  if (auto v = num(s, "rss_bytes_1m_idle"))
    item(fmt::format("1,000,000 idle connections < 1 GiB RSS per stack: {:.0f} MiB", *v / 1048576), *v < 1073741824.0);
  if (auto v = num(s, "bytes_per_timewait"))
    item(fmt::format("TIME-WAIT connection <= 128 bytes: {:.0f}", *v), *v <= 128);
  report["bar"] = bar;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchOptions& opts) {
  auto* b = app.add_subcommand("bench", "Measure synfin against the Linux kernel on this machine, side by side: "
                                        "throughput, connection rate, memory per connection");
  b->add_option("what", opts.what, "throughput, connrate, memory or all")
      ->check(CLI::IsMember({"throughput", "connrate", "memory", "all"}))
      ->capture_default_str();
  b->add_flag("--json", opts.json, "Print one JSON object {machine, synfin, kernel, ratio} instead of the table");
  b->add_flag("--quick", opts.quick, "Small sizes: a smoke test of correctness that takes seconds");
  b->add_flag("--no-kernel", opts.no_kernel, "Measure synfin only");
  b->add_option("--kernel-program", opts.kernel_program, "The kernel side (default: synfin-kernel-bench next to synfin)");
  b->add_option("--bytes", opts.bytes, "Bytes per throughput transfer (default 1 GiB; quick: 32 MiB)");
  b->add_option("--lifetimes", opts.lifetimes, "Connection lifetimes for connrate (default 200,000; quick: 5,000)");
  b->add_option("--rounds", opts.rounds,
                "Throughput rounds, synfin and the kernel taking turns; the median of each is reported (default 3; quick: 1)")
      ->check(CLI::Range(1u, 99u));
  b->add_option("--idle", opts.idle, "Idle connections for memory (default 100,000 and 1,000,000; quick: 10,000)");
  // Memory is measured in a fresh process of our own, so that no earlier test's freed heap
  // hides the growth: `--child memory:N` or `--child timewait:N` prints one JSON object.
  b->add_option("--child", opts.child)->group("");
  return b;
}

namespace {

int run_child(const BenchOptions& o) {
  const auto colon = o.child.find(':');
  const std::string what = o.child.substr(0, colon);
  const std::uint64_t n = colon == std::string::npos ? 0 : std::strtoull(o.child.c_str() + colon + 1, nullptr, 10);
  json r;
  if (what == "memory" && n > 0) {
    const Memory m = synfin_memory(n, !o.json);
    if (!m.ok) r["error"] = m.error;
    r["bytes_per_idle_conn"] = m.bytes_per_idle_conn;
    r["rss_per_stack"] = m.rss_per_stack;
  } else if (what == "timewait" && n > 0) {
    const TimeWait t = synfin_timewait(n, !o.json);
    if (!t.ok) r["error"] = t.error;
    r["bytes_per_timewait"] = t.bytes_per_timewait;
  } else if ((what == "threaded" || what == "offload") && n > 0) {
    // One two-thread transfer, for profiling: `--child threaded:1500` or `offload:1500`
    // (`--bytes` applies); `--child one:1500` below runs the one-thread transfer.
    const Throughput t = synfin_throughput_threaded(static_cast<std::uint16_t>(n), o.bytes != 0 ? o.bytes : 1ull << 30,
                                                    false, what == "offload");
    if (!t.ok) r["error"] = t.error;
    r["gbps"] = t.gbps;
    r["sender_cpu_s"] = t.sender_cpu_s;
    r["receiver_cpu_s"] = t.receiver_cpu_s;
  } else if (what == "one" && n > 0) {
    // One one-thread transfer (both stacks and both applications), for profiling.
    const Throughput t = synfin_throughput(static_cast<std::uint16_t>(n), o.bytes != 0 ? o.bytes : 1ull << 30, false);
    if (!t.ok) r["error"] = t.error;
    r["gbps"] = t.gbps;
    r["cpu_s_per_gb"] = t.cpu_s_per_gb;
  } else {
    r["error"] = "bad --child";
  }
  fmt::print("{}\n", r.dump());
  return 0;
}

}  // namespace

int run_bench(const BenchOptions& o) {
  if (!o.child.empty()) return run_child(o);
  const bool all = o.what == "all";
  const bool progress = !o.json;
  const std::uint64_t bytes = o.bytes != 0 ? o.bytes : (o.quick ? 32ull << 20 : 1ull << 30);
  const std::uint64_t lifetimes = o.lifetimes != 0 ? o.lifetimes : (o.quick ? 5000 : 200000);
  std::vector<std::uint64_t> idle_sizes;
  if (o.idle != 0) idle_sizes = {o.idle};
  else if (o.quick) idle_sizes = {10000};
  else idle_sizes = {100000, 1000000};
  const std::string kprog = o.no_kernel ? std::string{} : find_kernel_program(o);
  std::vector<std::string> kcommon;
  if (o.quick) kcommon.push_back("--quick");

  json report;
  report["machine"] = machine_info();
  json s = json::object();  // synfin's figures
  json k = json::object();  // the kernel's
  json errors = json::array();
  json notes = json::array();
  // Runs the kernel program once; its errors and notes become notes (each once, however
  // often it runs), and its figures are returned.
  auto add_note = [&](const std::string& n) {
    if (std::find(notes.begin(), notes.end(), json(n)) == notes.end()) notes.push_back(n);
  };
  auto kernel = [&](const std::string& what, std::vector<std::string> extra) {
    json figures = json::object();
    if (o.no_kernel) return figures;
    std::vector<std::string> args = {what};
    args.insert(args.end(), kcommon.begin(), kcommon.end());
    args.insert(args.end(), extra.begin(), extra.end());
    if (progress && ::isatty(2) != 0) fmt::print(stderr, "kernel {} ...\r", what);
    json r = run_json_program(kprog, args, 600);
    if (progress && ::isatty(2) != 0) fmt::print(stderr, "{:<40}\r", "");
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (it.key() == "error") add_note("kernel " + what + ": " + it.value().get<std::string>());
      else if (it.key() == "notes") {
        for (const auto& n : it.value()) add_note("kernel: " + n.get<std::string>());
      } else figures[it.key()] = it.value();
    }
    return figures;
  };

  if (all || o.what == "throughput") {
    // The two-thread transfers and the kernel's take turns, round after round, and the median
    // of each is reported: on a shared machine a neighbour's burst then lands on one round of
    // one side, not on the whole of one side's figure. Every round's figure is in the JSON.
    const unsigned rounds = o.rounds != 0 ? o.rounds : (o.quick ? 1u : 3u);
    std::map<std::string, std::vector<double>> srun, krun;
    // A warm-up transfer, not reported: the first one in a process also pays for faulting in
    // the buffers it grows (about half the speed of the next ones here). The kernel's program
    // warms up the same way.
    const Throughput warm = synfin_throughput_threaded(1500, std::max<std::uint64_t>(bytes / 4, 1), false);
    if (!warm.ok) errors.push_back("synfin throughput warm-up: " + warm.error);
    for (unsigned round = 0; round < rounds; ++round) {
      for (std::uint16_t mtu : {std::uint16_t{1500}, std::uint16_t{65535}}) {
        const Throughput two = synfin_throughput_threaded(mtu, bytes, progress);
        if (!two.ok) errors.push_back(fmt::format("synfin throughput at MTU {} (two threads): {}", mtu, two.error));
        srun[fmt::format("throughput_gbps_mtu{}", mtu)].push_back(two.gbps);
      }
      const json r = kernel("throughput", {"--bytes", std::to_string(bytes)});
      for (auto it = r.begin(); it != r.end(); ++it) {
        if (it.value().is_number()) krun[it.key()].push_back(it.value().get<double>());
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    for (auto& [key, runs] : srun) {
      s[key] = median(runs);
      if (rounds > 1) s[key + "_runs"] = runs;
    }
    for (auto& [key, runs] : krun) {
      k[key] = median(runs);
      if (rounds > 1) k[key + "_runs"] = runs;
    }
    for (std::uint16_t mtu : {std::uint16_t{1500}, std::uint16_t{65535}}) {
      const Throughput one = synfin_throughput(mtu, bytes, progress);
      if (!one.ok) errors.push_back(fmt::format("synfin throughput at MTU {}: {}", mtu, one.error));
      s[fmt::format("throughput_gbps_mtu{}_one_thread", mtu)] = one.gbps;
      s[fmt::format("cpu_s_per_gb_mtu{}", mtu)] = one.cpu_s_per_gb;
    }
    // The second figure the issue allows: a link that declares checksum offload, as the
    // kernel's loopback does; labelled as such, never the headline.
    const Throughput off = synfin_throughput_threaded(1500, bytes, progress, true);
    if (!off.ok) errors.push_back(fmt::format("synfin throughput at MTU 1500 with checksum offload: {}", off.error));
    s["throughput_gbps_mtu1500_checksum_offload"] = off.gbps;
    if (rounds > 1) {
      notes.push_back(o.no_kernel ? fmt::format("throughput: the median of {} rounds (each round's figure is in --json)", rounds)
                                  : fmt::format("throughput: the median of {} rounds in which synfin's two-thread transfers "
                                                "and the kernel's took turns (each round's figure is in --json)", rounds));
    }
    notes.push_back("synfin throughput: each stack on its own thread with its application (sender, receiver), "
                    "checksums computed and verified on every segment; CPU seconds per GB from the one-thread run; "
                    "kernel: a sender and a receiver thread on loopback (MTU 65535: lo's 65536; MTU 1500: lo in "
                    "a private namespace), which offloads checksums and segmentation (TSO)");
  }
  if (all || o.what == "connrate") {
    const ConnRate c = synfin_connrate(lifetimes, progress);
    if (!c.ok) errors.push_back("synfin connrate: " + c.error);
    s["connrate_per_s"] = c.per_s;
    k.update(kernel("connrate", {"--lifetimes", std::to_string(lifetimes)}));
  }
  if (all || o.what == "memory") {
    s["tcb_bytes"] = sizeof(tcp::Connection);
    const std::string self = self_dir() + "/" + std::filesystem::path(std::filesystem::read_symlink("/proc/self/exe")).filename().string();
    auto child = [&](const std::string& spec) {
      std::vector<std::string> args = {"bench", "--child", spec};
      if (o.json) args.push_back("--json");
      return run_json_program(self, args, 600);
    };
    for (std::size_t i = 0; i < idle_sizes.size(); ++i) {
      const json m = child(fmt::format("memory:{}", idle_sizes[i]));
      if (m.contains("error")) errors.push_back(fmt::format("synfin memory with {} idle: {}", idle_sizes[i], m["error"].get<std::string>()));
      const double per = m.value("bytes_per_idle_conn", 0.0);
      if (i == 0) s["bytes_per_idle_conn"] = per;
      if (idle_sizes[i] == 1000000) {
        const double rss = m.value("rss_per_stack", 0.0);
        s["bytes_per_idle_conn_1m"] = per;
        s["rss_bytes_1m_idle"] = rss;
        s["rss_mib_1m_idle"] = rss / 1048576.0;
      }
    }
    const json t = child(fmt::format("timewait:{}", o.quick ? 40000 : 200000));
    if (t.contains("error")) errors.push_back("synfin TIME-WAIT: " + t["error"].get<std::string>());
    s["bytes_per_timewait"] = t.value("bytes_per_timewait", 0.0);
    k.update(kernel("memory", {}));
    notes.push_back("synfin memory: RSS growth of the process over both stacks, per connection per stack; "
                    "kernel: slab growth per socket (/proc/slabinfo), TIME-WAIT the size of tw_sock_TCP");
  }
  report["synfin"] = s;
  report["kernel"] = k;
  json ratio = json::object();
  for (const char* key : {"connrate_per_s", "throughput_gbps_mtu1500", "throughput_gbps_mtu65535"}) {
    auto a = num(s, key), b = num(k, key);
    if (a && b && *b > 0) ratio[key] = *a / *b;
  }
  report["ratio"] = ratio;
  add_bar(report);
  if (!notes.empty()) report["notes"] = notes;
  if (!errors.empty()) report["errors"] = errors;
  if (o.json) {
    fmt::print("{}\n", report.dump(2));
  } else {
    print_table(report);
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace synfin::tools

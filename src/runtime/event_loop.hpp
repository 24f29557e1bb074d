// The event loop that drives one Stack over one Device with real time (DESIGN: everything
// real lives at the edge). It waits with epoll on the device, a timerfd and a signalfd, and
// sleeps exactly until the next packet, the stack's next deadline, the device's next delayed
// packet or the application's next timer: no busy polling, no fixed tick. Each pass reads a
// batch of packets, runs the stack's timers, lets the application react to socket events,
// and writes everything the stack queued.
//
// SIGINT and SIGTERM ask the application to close gracefully; the loop ends when it says it
// is done, or after the grace period; a second signal ends it at once.
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>

#include "link/device.hpp"
#include "link/pcap.hpp"
#include "runtime/clock.hpp"
#include "synfin/stack.hpp"

namespace synfin::runtime {

class EventLoop;

// What runs on top of the stack: the HTTP server, the HTTP client, nc.
class Application {
 public:
  virtual ~Application() = default;
  // Once, before the first wait: listen, connect.
  virtual void start(Instant now) = 0;
  virtual void on_event(const SocketEvent& e, Instant now) = 0;
  // After the events of a pass: timers of the application, more data to send.
  virtual void on_pass(Instant now) { (void)now; }
  // When on_pass() must next run even if nothing arrives; kNever if never.
  virtual Instant next_deadline() const { return kNever; }
  // SIGINT or SIGTERM: begin closing gracefully.
  virtual void on_stop_request(Instant now) = 0;
  // The loop ends when this is true (checked after every pass).
  virtual bool done() const = 0;
};

struct LoopOptions {
  std::size_t read_batch = 256;          // packets read per pass before the stack runs
  Duration stop_grace = std::chrono::seconds(5);  // after SIGINT/SIGTERM
  // When the application is done, packets still held by the device (an impairing delay)
  // are delivered, for at most this long.
  Duration drain_limit = std::chrono::seconds(2);
};

struct LoopStats {
  std::uint64_t passes = 0;
  std::uint64_t wakeups = 0;
  std::uint64_t timer_wakeups = 0;
  std::uint64_t packets_to_stack = 0;
  std::uint64_t packets_from_stack = 0;
};

class EventLoop {
 public:
  EventLoop(Stack& stack, link::Device& device, LoopOptions options = {});
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Returns an error message if epoll, timerfd or signalfd cannot be set up.
  std::string init();
  // Runs until the application is done. Returns false when it ended because of a second
  // signal or the stop grace period.
  bool run(Application& app);

  Instant now() const { return clock_.now(); }
  const Clock& clock() const { return clock_; }
  Stack& stack() { return *stack_; }
  const LoopStats& stats() const { return stats_; }
  bool stop_requested() const { return stop_requested_; }
  // Writes every packet in and out of the stack to this pcap.
  void tap(link::PcapWriter* pcap) { tap_ = pcap; }

  // Watch another descriptor (a pipe on standard input, ...): `on_ready` runs in the pass
  // after it becomes readable. Regular files cannot be watched (epoll refuses them).
  bool watch(int fd, std::function<void(Instant)> on_ready);
  void unwatch(int fd);

 private:
  struct Sink : PacketSink {
    EventLoop* loop = nullptr;
    void send_packet(std::span<const std::uint8_t> packet, Instant now) override;
  };
  void to_stack(std::span<const std::uint8_t> packet, Instant now);
  void dispatch(Application& app, Instant now);
  void flush(Application& app, Instant now);
  void arm_timer(Instant deadline);
  void handle_signals(Application& app);
  void drain(Application& app);

  Stack* stack_;
  link::Device* device_;
  LoopOptions opts_;
  Clock clock_;
  Sink sink_;
  link::PcapWriter* tap_ = nullptr;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  int signal_fd_ = -1;
  Instant armed_ = kNever;
  bool stop_requested_ = false;
  bool force_stop_ = false;
  Instant stop_deadline_ = kNever;
  std::unordered_map<int, std::function<void(Instant)>> watched_;
  std::vector<int> ready_;
  LoopStats stats_;
};

}  // namespace synfin::runtime

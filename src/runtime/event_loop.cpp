// The event loop. See event_loop.hpp.
#include "runtime/event_loop.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace synfin::runtime {

namespace {
constexpr int kTagDevice = -1;
constexpr int kTagTimer = -2;
constexpr int kTagSignal = -3;
}  // namespace

EventLoop::EventLoop(Stack& stack, link::Device& device, LoopOptions options)
    : stack_(&stack), device_(&device), opts_(options) {
  sink_.loop = this;
}

EventLoop::~EventLoop() {
  if (signal_fd_ >= 0) {
    ::close(signal_fd_);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  }
  if (timer_fd_ >= 0) ::close(timer_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

std::string EventLoop::init() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return fmt::format("epoll_create1: {}", std::strerror(errno));
  timer_fd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) return fmt::format("timerfd_create: {}", std::strerror(errno));
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return fmt::format("signalfd: {}", std::strerror(errno));
  auto add = [&](int fd, int tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(static_cast<std::int64_t>(tag));
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  if (device_->fd() >= 0 && !add(device_->fd(), kTagDevice)) return fmt::format("epoll_ctl: {}", std::strerror(errno));
  if (!add(timer_fd_, kTagTimer) || !add(signal_fd_, kTagSignal)) return fmt::format("epoll_ctl: {}", std::strerror(errno));
  return {};
}

bool EventLoop::watch(int fd, std::function<void(Instant)> on_ready) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(fd);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watched_[fd] = std::move(on_ready);
  return true;
}

void EventLoop::unwatch(int fd) {
  if (watched_.erase(fd) != 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::Sink::send_packet(std::span<const std::uint8_t> packet, Instant now) {
  if (loop->tap_ != nullptr) loop->tap_->write(packet, now);
  ++loop->stats_.packets_from_stack;
  loop->device_->send(packet, now);
}

void EventLoop::to_stack(std::span<const std::uint8_t> packet, Instant now) {
  if (tap_ != nullptr) tap_->write(packet, now);
  ++stats_.packets_to_stack;
  stack_->receive(packet, now);
}

void EventLoop::dispatch(Application& app, Instant now) {
  // Reacting to one event may cause others (a close reports closed); a few rounds settle it.
  for (int round = 0; round < 8; ++round) {
    for (SocketEvent e; stack_->next_event(e);) app.on_event(e, now);
    app.on_pass(now);
    SocketEvent e;
    if (!stack_->next_event(e)) break;
    app.on_event(e, now);
  }
}

void EventLoop::flush(Application& app, Instant now) {
  // Transmit; an impairing device may then release packets towards the stack that are due,
  // whose answers are transmitted in turn.
  for (int round = 0; round < 64; ++round) {
    stack_->transmit(sink_, now);
    std::size_t delivered = 0;
    device_->poll(now, [&](std::span<const std::uint8_t> p) {
      ++delivered;
      to_stack(p, now);
    });
    if (delivered == 0 && stack_->pending_packets() == 0) break;
    stack_->poll(now);
    dispatch(app, now);
  }
}

void EventLoop::arm_timer(Instant deadline) {
  if (deadline == armed_) return;
  armed_ = deadline;
  itimerspec its{};
  if (deadline != kNever) {
    its.it_value = clock_.to_timespec(deadline);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  }
  ::timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
}

void EventLoop::handle_signals(Application& app) {
  signalfd_siginfo si{};
  while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (stop_requested_) {
      force_stop_ = true;
      continue;
    }
    stop_requested_ = true;
    const Instant now = clock_.now();
    stop_deadline_ = now + opts_.stop_grace;
    app.on_stop_request(now);
  }
}

bool EventLoop::run(Application& app) {
  Instant now = clock_.now();
  app.start(now);
  dispatch(app, now);
  flush(app, now);
  epoll_event events[16];
  bool more = false;
  while (!app.done()) {
    // Sleep until something happens, unless the last read left packets waiting.
    const Instant deadline =
        std::min({stack_->next_deadline(), device_->next_deadline(), app.next_deadline(), stop_deadline_});
    int timeout = -1;
    if (more || deadline <= clock_.now()) {
      timeout = 0;
    } else {
      arm_timer(deadline);
    }
    const int n = ::epoll_wait(epoll_fd_, events, 16, timeout);
    ++stats_.wakeups;
    ready_.clear();
    for (int i = 0; i < n; ++i) {
      const auto tag = static_cast<std::int64_t>(events[i].data.u64);
      if (tag == kTagTimer) {
        std::uint64_t expirations = 0;
        (void)::read(timer_fd_, &expirations, sizeof expirations);
        armed_ = kNever;
        ++stats_.timer_wakeups;
      } else if (tag == kTagSignal) {
        handle_signals(app);
      } else if (tag >= 0) {
        ready_.push_back(static_cast<int>(tag));
      }
    }
    if (force_stop_) return false;
    now = clock_.now();
    ++stats_.passes;
    device_->receive(now, [&](std::span<const std::uint8_t> p) { to_stack(p, now); }, opts_.read_batch, more);
    stack_->poll(now);
    for (int fd : ready_) {
      auto it = watched_.find(fd);
      if (it != watched_.end()) it->second(now);
    }
    dispatch(app, now);
    flush(app, now);
    if (stop_requested_ && now >= stop_deadline_ && !app.done()) return false;
  }
  drain(app);
  return true;
}

void EventLoop::drain(Application& app) {
  // Packets an impairing device still holds back (the last ACK, a FIN) are delivered before
  // we go: otherwise the kernel is left retransmitting to nobody. Bounded.
  const Instant limit = clock_.now() + opts_.drain_limit;
  epoll_event events[16];
  while (device_->next_deadline() != kNever && !force_stop_) {
    const Instant now = clock_.now();
    if (now >= limit) break;
    const Instant wake = std::min(device_->next_deadline(), limit);
    if (wake > now) {
      arm_timer(wake);
      const int n = ::epoll_wait(epoll_fd_, events, 16, -1);
      for (int i = 0; i < n; ++i) {
        const auto tag = static_cast<std::int64_t>(events[i].data.u64);
        if (tag == kTagTimer) {
          std::uint64_t expirations = 0;
          (void)::read(timer_fd_, &expirations, sizeof expirations);
          armed_ = kNever;
        } else if (tag == kTagSignal) {
          handle_signals(app);
        }
      }
    }
    const Instant t = clock_.now();
    bool more = false;
    device_->receive(t, [&](std::span<const std::uint8_t> p) { to_stack(p, t); }, opts_.read_batch, more);
    stack_->poll(t);
    dispatch(app, t);
    flush(app, t);
  }
}

}  // namespace synfin::runtime

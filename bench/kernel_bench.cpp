// synfin-kernel-bench: the Linux kernel's TCP doing the work `synfin bench` gives synfin, so
// that the two can be compared side by side in one run (issue 6). It prints one JSON object.
//
//   synfin-kernel-bench [--quick] [--bytes N] [--lifetimes N] [--conns N] [--no-netns]
//                       throughput|connrate|memory|all
//
// - throughput: one connection on loopback, a sender and a receiver thread, the bytes
//   verified; at lo's MTU (65536) and at MTU 1500.
// - connrate: whole lifetimes on one non-blocking thread (epoll): connect, a 100-byte
//   request, a 100-byte response, the server closes first (it holds TIME-WAIT), the client
//   closes on end of stream.
// - memory: slab growth per idle established socket (/proc/slabinfo, /proc/net/sockstat),
//   and the size of a TIME-WAIT socket.
//
// Traffic stays on loopback inside a private network namespace that this program creates
// with `ip netns add` and deletes at the end, on failure and on SIGINT/SIGTERM/SIGHUP too.
// Without root (or without `ip`) it uses the host's loopback and skips MTU 1500.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

double wall_seconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// The same stream as synfin's benchmark: a pseudo-random megabyte, repeated.
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
  const std::uint8_t* at(std::uint64_t offset) const { return bytes_.data() + offset % kPeriod; }
  bool matches(std::uint64_t offset, const std::uint8_t* got, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
      const std::size_t k = std::min(n - done, kMaxChunk);
      if (std::memcmp(at(offset + done), got + done, k) != 0) return false;
      done += k;
    }
    return true;
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

// A tiny JSON object writer: numbers, strings, and string lists.
class JsonOut {
 public:
  void num(const std::string& k, double v) { items_.push_back("\"" + k + "\": " + fmt(v)); }
  void str(const std::string& k, const std::string& v) { items_.push_back("\"" + k + "\": " + quote(v)); }
  void note(const std::string& n) { notes_.push_back(quote(n)); }
  void error(const std::string& e) {
    if (error_.empty()) error_ = e;
    else error_ += "; " + e;
  }
  std::string dump() const {
    std::string s = "{";
    for (std::size_t i = 0; i < items_.size(); ++i) s += (i ? ", " : "") + items_[i];
    if (!notes_.empty()) {
      s += std::string(items_.empty() ? "" : ", ") + "\"notes\": [";
      for (std::size_t i = 0; i < notes_.size(); ++i) s += (i ? ", " : "") + notes_[i];
      s += "]";
    }
    if (!error_.empty()) s += std::string(items_.empty() && notes_.empty() ? "" : ", ") + "\"error\": " + quote(error_);
    return s + "}";
  }

 private:
  static std::string fmt(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
  }
  static std::string quote(const std::string& v) {
    std::string s = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') s += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) s += c;
    }
    return s + "\"";
  }
  std::vector<std::string> items_;
  std::vector<std::string> notes_;
  std::string error_;
};

// --- the private network namespace ----------------------------------------------------------

std::string g_netns;        // its name while it exists
char g_netns_path[256];     // /var/run/netns/<name>, for the signal handler

int run_quiet(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void delete_netns() {
  if (g_netns.empty()) return;
  if (run_quiet({"ip", "netns", "del", g_netns}) != 0) {
    umount2(g_netns_path, MNT_DETACH);  // what `ip netns del` does
    unlink(g_netns_path);
  }
  g_netns.clear();
}

extern "C" void on_signal(int sig) {
  // Only async-signal-safe calls here: unmount and unlink the namespace, then leave.
  if (g_netns_path[0] != '\0') {
    umount2(g_netns_path, MNT_DETACH);
    unlink(g_netns_path);
  }
  _exit(128 + sig);
}

// Namespaces of earlier runs that died without cleaning up (SIGKILL) are deleted.
void delete_stale_namespaces() {
  DIR* d = opendir("/var/run/netns");
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind("synfin-bench-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 13, nullptr, 10);
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  closedir(d);
  for (const auto& n : stale) run_quiet({"ip", "netns", "del", n});
}

// Creates the namespace, brings its loopback up and moves this process into it (before any
// thread exists, so that every thread and socket lives there).
bool enter_netns(std::string& why) {
  if (geteuid() != 0) {
    why = "not root: no private namespace, the host's loopback is used and MTU 1500 is skipped";
    return false;
  }
  delete_stale_namespaces();
  const std::string name = "synfin-bench-" + std::to_string(getpid());
  std::snprintf(g_netns_path, sizeof g_netns_path, "/var/run/netns/%s", name.c_str());
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
  if (run_quiet({"ip", "netns", "add", name}) != 0) {
    g_netns_path[0] = '\0';
    why = "`ip netns add` failed: the host's loopback is used and MTU 1500 is skipped";
    return false;
  }
  g_netns = name;
  if (run_quiet({"ip", "-n", name, "link", "set", "lo", "up"}) != 0) {
    why = "cannot bring up lo in the namespace";
    delete_netns();
    return false;
  }
  const int fd = open(g_netns_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    if (fd >= 0) close(fd);
    why = "cannot enter the namespace";
    delete_netns();
    return false;
  }
  close(fd);
  return true;
}

bool set_lo_mtu(int mtu) { return run_quiet({"ip", "link", "set", "lo", "mtu", std::to_string(mtu)}) == 0; }

// --- sockets --------------------------------------------------------------------------------

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int listener(std::uint16_t& port, int backlog, bool nonblocking) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(port);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

// --- throughput -----------------------------------------------------------------------------

struct Throughput {
  double gbps = 0;
  double cpu_s_per_gb = 0;
  std::string error;
};

Throughput throughput(std::uint64_t total) {
  Throughput out;
  const Pattern pat;
  std::uint16_t port = 0;
  const int l = listener(port, 16, false);
  if (l < 0) {
    out.error = std::string("listen: ") + std::strerror(errno);
    return out;
  }
  const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    out.error = std::string("connect: ") + std::strerror(errno);
    close(l);
    return out;
  }
  const int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  close(l);
  if (s < 0) {
    out.error = std::string("accept: ") + std::strerror(errno);
    close(c);
    return out;
  }
  // Bounded in time: a receive timeout ends a stalled run.
  timeval tv{30, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::vector<std::uint8_t> buf(Pattern::kMaxChunk);
  std::uint64_t received = 0;
  bool bad = false;
  const double wall0 = wall_seconds(), cpu0 = cpu_seconds();
  std::thread sender([&] {
    std::uint64_t sent = 0;
    while (sent < total) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(Pattern::kMaxChunk, total - sent));
      const ssize_t w = write(c, pat.at(sent), n);
      if (w <= 0) break;
      sent += static_cast<std::uint64_t>(w);
    }
    shutdown(c, SHUT_WR);
  });
  while (true) {
    const ssize_t r = read(s, buf.data(), buf.size());
    if (r <= 0) break;
    if (!pat.matches(received, buf.data(), static_cast<std::size_t>(r))) bad = true;
    received += static_cast<std::uint64_t>(r);
  }
  const double wall = wall_seconds() - wall0, cpu = cpu_seconds() - cpu0;
  sender.join();
  close(c);
  close(s);
  if (bad) out.error = "received bytes differ from those sent";
  else if (received != total) out.error = "received " + std::to_string(received) + " of " + std::to_string(total) + " bytes";
  out.gbps = static_cast<double>(received) * 8 / wall / 1e9;
  out.cpu_s_per_gb = cpu / (static_cast<double>(received) / 1e9);
  return out;
}

// --- connection rate ------------------------------------------------------------------------

struct ConnRate {
  double per_s = 0;
  std::uint64_t lifetimes = 0;
  std::string error;
};

ConnRate connrate(std::uint64_t n) {
  ConnRate out;
  constexpr std::size_t kMessage = 100;
  constexpr std::size_t kConcurrent = 256;
  const Pattern pat;
  std::uint16_t port = 0;
  const int l = listener(port, 4096, true);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (l < 0 || ep < 0) {
    out.error = std::string("listen: ") + std::strerror(errno);
    return out;
  }
  epoll_event le{};
  le.events = EPOLLIN;
  le.data.u64 = ~0ull;
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &le);
  struct Conn {
    bool client = false;
    bool sent = false;
    std::uint32_t got = 0;
  };
  std::map<int, Conn> conns;
  std::uint64_t started = 0, completed = 0, failures = 0, bad = 0;
  std::size_t clients = 0;
  const sockaddr_in a = loopback(port);
  std::uint8_t buf[512];
  const double wall0 = wall_seconds();
  const double deadline = wall0 + 120;
  epoll_event evs[256];
  auto finish = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  while (completed + failures < n && wall_seconds() < deadline) {
    while (clients < kConcurrent && started < n) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        ++failures;
        ++started;
        continue;
      }
      epoll_event e{};
      e.events = EPOLLOUT | EPOLLIN;
      e.data.u64 = static_cast<std::uint64_t>(fd);
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
      conns[fd] = Conn{true, false, 0};
      ++clients;
      ++started;
    }
    const int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; ++i) {
      if (evs[i].data.u64 == ~0ull) {
        while (true) {
          const int fd = accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.u64 = static_cast<std::uint64_t>(fd);
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
          conns[fd] = Conn{false, false, 0};
        }
        continue;
      }
      const int fd = static_cast<int>(evs[i].data.u64);
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& cn = it->second;
      if (cn.client) {
        if (!cn.sent && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
          int err = 0;
          socklen_t len = sizeof err;
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err != 0 || write(fd, pat.at(0), kMessage) != static_cast<ssize_t>(kMessage)) {
            ++failures;
            --clients;
            finish(fd);
            continue;
          }
          cn.sent = true;
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.u64 = static_cast<std::uint64_t>(fd);
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
          continue;
        }
        while (true) {
          const ssize_t r = read(fd, buf, sizeof buf);
          if (r < 0 && errno == EAGAIN) break;
          if (r <= 0) {
            if (r < 0 || cn.got != kMessage) ++failures;
            else ++completed;  // the client closes on end of stream
            --clients;
            finish(fd);
            break;
          }
          if (cn.got + static_cast<std::size_t>(r) > kMessage || !pat.matches(kMessage + cn.got, buf, static_cast<std::size_t>(r))) ++bad;
          cn.got += static_cast<std::uint32_t>(r);
        }
      } else {
        bool closed = false;
        while (cn.got < kMessage) {
          const ssize_t r = read(fd, buf, kMessage - cn.got);
          if (r < 0 && errno == EAGAIN) break;
          if (r <= 0) {
            ++failures;
            finish(fd);
            closed = true;
            break;
          }
          if (!pat.matches(cn.got, buf, static_cast<std::size_t>(r))) ++bad;
          cn.got += static_cast<std::uint32_t>(r);
        }
        if (!closed && cn.got == kMessage) {
          if (write(fd, pat.at(kMessage), kMessage) != static_cast<ssize_t>(kMessage)) ++failures;
          finish(fd);  // the server closes first and holds TIME-WAIT
        }
      }
    }
  }
  const double wall = wall_seconds() - wall0;
  for (auto& [fd, c] : conns) close(fd);
  close(ep);
  close(l);
  out.lifetimes = completed;
  out.per_s = static_cast<double>(completed) / wall;
  if (bad > 0) out.error = std::to_string(bad) + " messages differ from those sent";
  else if (failures > 0) out.error = std::to_string(failures) + " connections failed";
  else if (completed < n) out.error = "only " + std::to_string(completed) + " lifetimes finished in time";
  return out;
}

// --- memory ---------------------------------------------------------------------------------

// Bytes held by every slab cache, and the object size of some.
struct Slabs {
  std::uint64_t total = 0;
  std::map<std::string, std::uint64_t> objsize;
  std::map<std::string, std::uint64_t> bytes;
};

bool read_slabs(Slabs& s) {
  std::ifstream f("/proc/slabinfo");
  if (!f) return false;
  std::string line;
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("slabinfo", 0) == 0) continue;
    std::istringstream in(line);
    std::string name, colon, word;
    std::uint64_t active = 0, num = 0, objsize = 0, perslab = 0, pages = 0;
    in >> name >> active >> num >> objsize >> perslab >> pages;
    // ... : tunables a b c : slabdata active_slabs num_slabs sharedavail
    std::uint64_t active_slabs = 0, num_slabs = 0;
    while (in >> word && word != "slabdata") {
    }
    in >> active_slabs >> num_slabs;
    const std::uint64_t b = num_slabs * pages * page;
    s.total += b;
    s.objsize[name] = objsize;
    s.bytes[name] = b;
  }
  return true;
}

// "TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 0"
std::map<std::string, std::uint64_t> sockstat_tcp() {
  std::map<std::string, std::uint64_t> m;
  std::ifstream f("/proc/net/sockstat");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("TCP:", 0) != 0) continue;
    std::istringstream in(line.substr(4));
    std::string k;
    std::uint64_t v = 0;
    while (in >> k >> v) m[k] = v;
  }
  return m;
}

struct Memory {
  std::uint64_t n = 0;
  double bytes_per_idle_conn = 0;
  double bytes_per_timewait = 0;
  double tcp_sock_bytes = 0;
  double timewait_measured = 0;
  std::string error;
};

Memory memory(std::uint64_t want) {
  Memory out;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  const std::uint64_t n = std::min<std::uint64_t>(want, rl.rlim_cur > 200 ? (rl.rlim_cur - 100) / 2 : 0);
  out.n = n;
  if (n == 0) {
    out.error = "too few file descriptors";
    return out;
  }
  std::uint16_t port = 0;
  const int l = listener(port, 4096, false);
  if (l < 0) {
    out.error = std::string("listen: ") + std::strerror(errno);
    return out;
  }
  Slabs before;
  if (!read_slabs(before)) {
    out.error = "cannot read /proc/slabinfo (root needed)";
    close(l);
    return out;
  }
  const auto ss0 = sockstat_tcp();
  std::vector<int> clients, servers;
  const sockaddr_in a = loopback(port);
  for (std::uint64_t i = 0; i < n; i += 500) {
    const std::uint64_t end = std::min(n, i + 500);
    for (std::uint64_t j = i; j < end; ++j) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        out.error = std::string("connect: ") + std::strerror(errno);
        break;
      }
      clients.push_back(fd);
    }
    while (servers.size() < clients.size()) {
      const int fd = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;
      servers.push_back(fd);
    }
    if (!out.error.empty()) break;
  }
  usleep(100000);
  Slabs after;
  read_slabs(after);
  const auto ss1 = sockstat_tcp();
  const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const double sockets = 2.0 * static_cast<double>(servers.size());
  const double grown = static_cast<double>(after.total) - static_cast<double>(before.total) +
                       (static_cast<double>(ss1.count("mem") ? ss1.at("mem") : 0) -
                        static_cast<double>(ss0.count("mem") ? ss0.at("mem") : 0)) *
                           static_cast<double>(page);
  if (sockets > 0) out.bytes_per_idle_conn = grown / sockets;
  out.tcp_sock_bytes = static_cast<double>(after.objsize["TCP"]);
  // TIME-WAIT: the servers close first; the clients close on end of stream.
  for (int fd : servers) close(fd);
  usleep(50000);
  for (int fd : clients) close(fd);
  usleep(200000);
  Slabs tw;
  read_slabs(tw);
  const auto ss2 = sockstat_tcp();
  out.bytes_per_timewait = static_cast<double>(tw.objsize["tw_sock_TCP"]);
  const double tws = static_cast<double>(ss2.count("tw") ? ss2.at("tw") : 0) -
                     static_cast<double>(ss0.count("tw") ? ss0.at("tw") : 0);
  if (tws > 0) {
    out.timewait_measured = (static_cast<double>(tw.bytes["tw_sock_TCP"]) -
                             static_cast<double>(before.bytes["tw_sock_TCP"])) / tws;
  }
  close(l);
  if (servers.size() != n && out.error.empty()) out.error = "accepted " + std::to_string(servers.size()) + " of " + std::to_string(n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = "all";
  bool quick = false, use_netns = true;
  std::uint64_t bytes = 0, lifetimes = 0, conns = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::uint64_t { return i + 1 < argc ? std::strtoull(argv[++i], nullptr, 10) : 0; };
    if (a == "--quick") quick = true;
    else if (a == "--no-netns") use_netns = false;
    else if (a == "--bytes") bytes = value();
    else if (a == "--lifetimes") lifetimes = value();
    else if (a == "--conns") conns = value();
    else if (a == "throughput" || a == "connrate" || a == "memory" || a == "all") what = a;
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--bytes N] [--lifetimes N] [--conns N] [--no-netns] "
                           "throughput|connrate|memory|all\n", argv[0]);
      return 2;
    }
  }
  if (bytes == 0) bytes = quick ? 32ull << 20 : 1ull << 30;
  if (lifetimes == 0) lifetimes = quick ? 5000 : 200000;
  if (conns == 0) conns = quick ? 1000 : 9000;
  signal(SIGPIPE, SIG_IGN);

  JsonOut out;
  std::string why;
  const bool in_netns = use_netns && enter_netns(why);
  if (!why.empty()) out.note(why);
  const bool all = what == "all";
  if (all || what == "throughput") {
    // A warm-up transfer, not reported: the first one in a process also pays for faulting in
    // its buffers. synfin's side warms up the same way.
    (void)throughput(std::max<std::uint64_t>(bytes / 4, 1));
    const Throughput big = throughput(bytes);
    if (!big.error.empty()) out.error("throughput at MTU 65536: " + big.error);
    out.num("throughput_gbps_mtu65535", big.gbps);
    out.num("cpu_s_per_gb_mtu65535", big.cpu_s_per_gb);
    if (in_netns && set_lo_mtu(1500)) {
      const Throughput small = throughput(bytes);
      if (!small.error.empty()) out.error("throughput at MTU 1500: " + small.error);
      out.num("throughput_gbps_mtu1500", small.gbps);
      out.num("cpu_s_per_gb_mtu1500", small.cpu_s_per_gb);
      set_lo_mtu(65536);
    }
  }
  if (all || what == "connrate") {
    const ConnRate c = connrate(lifetimes);
    if (!c.error.empty()) out.error("connrate: " + c.error);
    out.num("connrate_per_s", c.per_s);
  }
  if (all || what == "memory") {
    const Memory m = memory(conns);
    if (!m.error.empty()) out.error("memory: " + m.error);
    if (m.bytes_per_idle_conn > 0) out.num("bytes_per_idle_conn", m.bytes_per_idle_conn);
    if (m.tcp_sock_bytes > 0) out.num("tcb_bytes", m.tcp_sock_bytes);
    if (m.bytes_per_timewait > 0) out.num("bytes_per_timewait", m.bytes_per_timewait);
    if (m.timewait_measured > 0) out.num("bytes_per_timewait_measured", m.timewait_measured);
    out.num("memory_sockets", static_cast<double>(2 * m.n));
  }
  delete_netns();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

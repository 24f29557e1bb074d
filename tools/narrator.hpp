// The demo's narrator: a trace sink that prints a timeline in virtual time, one line per
// segment with what it is for, and each state change on each side. English or Chinese.
#pragma once

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "synfin/trace.hpp"

namespace synfin::tools {

enum class Lang { en, zh };

class Narrator : public TraceSink {
 public:
  // out == nullptr: record states and counts, print nothing.
  Narrator(std::FILE* out, Lang lang, bool color);
  void on_trace(const TraceEvent& e) override;
  // A line of commentary from the scenario itself.
  void note(Instant at, std::string_view who, const std::string& text);
  // The link lost or damaged a packet the narrator already showed.
  void network(Instant at, const std::string& text);
  void header();
  void summary(Instant end);

  struct SideStats {
    std::vector<TcpState> states;
    std::uint64_t segments = 0;
    std::uint64_t retransmissions = 0;
    std::uint64_t payload_bytes = 0;
  };
  const SideStats& side(const std::string& name) { return sides_[name]; }
  Lang lang() const { return lang_; }
  // Picks the message in the narrator's language.
  std::string tr(const char* en, const char* zh) const { return lang_ == Lang::zh ? zh : en; }

 private:
  struct Flow {  // what one side has sent, seen from the trace
    bool have_isn = false;
    std::uint32_t isn = 0;
    std::uint32_t highest = 0;  // highest sequence number sent + 1 (relative)
    bool fin_sent = false;
    std::uint32_t fin_seq = 0;  // relative
    bool syn_acked_once = false;
    bool sent_plain_syn = false;   // this side opened actively
    bool last_was_probe = false;   // its last segment was a keep-alive probe
    std::uint32_t last_ack = 0;
    bool sent_any_ack = false;
    bool offered_sack = false;     // its SYN carried SACK-permitted (RFC 2018)
  };
  // The loss recovery a sender in recovery runs: RFC 6675 when both SYNs offered SACK (the
  // stacks offer it whenever it is configured), else RFC 6582 NewReno.
  std::string recovery_kind(const Flow& me, const Flow& peer) const;
  std::string offered_options(const wire::TcpOptions& o, bool answer) const;
  std::string explain(const TraceEvent& e, Flow& me, Flow& peer, const std::string& who,
                      const std::string& other);
  void line(Instant at, std::string_view who, const std::string& what, const std::string& why);

  std::FILE* out_;
  Lang lang_;
  bool color_;
  std::map<std::string, Flow> flows_;  // key: stack name + endpoint
  std::map<std::string, SideStats> sides_;
};

}  // namespace synfin::tools

#pragma once
// A TCP proxy between tasker and a real PostgreSQL server that breaks a
// connection at the worst moment for a client: after the server received a
// COMMIT (or a call of any version of tasker_submit or tasker_exchange, which
// commits on its own) and answered it, before the answer reaches the client. The server has
// committed; the client cannot know. This is the "outcome in doubt" case of
// docs/deployment.md, produced on a real network connection rather than mocked.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mp {

class CommitCutter {
 public:
  /// Listen on 127.0.0.1 (a free port) and relay to the host and port of
  /// `server_url` (postgresql://user:password@host:port/database).
  explicit CommitCutter(const std::string& server_url);
  ~CommitCutter();
  CommitCutter(const CommitCutter&) = delete;
  CommitCutter& operator=(const CommitCutter&) = delete;

  /// `server_url` with its host and port replaced by this proxy's.
  [[nodiscard]] const std::string& url() const { return url_; }

  enum class Kind { writing, read_only };
  /// Cut the connection that carries the `nth` COMMIT of a `kind` transaction
  /// from now (1: the next one, on whichever connection it comes). The other
  /// kind is let through: a test's reads (read-only snapshots) race with the
  /// writes it aims at.
  void cut_commit(int nth = 1, Kind kind = Kind::writing);
  /// Connections cut so far.
  [[nodiscard]] int cuts() const { return cuts_.load(); }
  /// Statements clients have sent so far, on every connection: simple queries
  /// (BEGIN, COMMIT, ...) and executions of prepared statements (Bind). Each
  /// waits for its answer, so this counts a client's round trips.
  [[nodiscard]] int statements() const { return statements_.load(); }

 private:
  void accept_loop();
  void relay(int client, int server);
  /// Called for each COMMIT a client sends; true when this one is to be cut.
  bool commit_seen(Kind kind);

  std::string url_;
  std::string upstream_host_;
  int upstream_port_{0};
  int listener_{-1};
  std::atomic<bool> stopping_{false};
  std::atomic<int> countdown_{0};  // 0: disarmed
  std::atomic<Kind> kind_{Kind::writing};
  std::atomic<int> cuts_{0};
  std::atomic<int> statements_{0};
  std::mutex mutex_;
  std::vector<int> sockets_;  // every open socket, shut down when stopping
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace mp

// RedisCluster: routes commands to the nodes of a Redis Cluster
// (docs/cluster-design.md), for the cluster primary tier
// (storage/redis/cluster_tier.h). Reads are MultiGet; any other per-slot
// command (the scripts of storage/redis/cluster_cas.h) goes through Exec.
//
// MultiGet groups the keys by hash slot and the slots by node (the slot map
// from CLUSTER SLOTS), and sends each node one MGET per slot, to every node
// at once (one async event loop per node, commands pipelined), so a batch
// costs one round trip per node, in parallel. Replies go back in request
// order. Redirections are followed: MOVED records the node it names as the
// slot's owner and sends that slot's MGET there; ASK (a slot being
// migrated) sends ASKING and the MGET to the named node on one connection,
// without changing the map; TRYAGAIN (the slot's keys split between two
// nodes by a migration) splits the slot's MGET into one per key, which ASK
// then redirects; a node that cannot be reached
// rereads the map (CLUSTER SLOTS) and waits before the next round (10 ms,
// doubling). At most `max_attempts` rounds (UNAVAILABLE naming the slot),
// within the caller's deadline (DEADLINE_EXCEEDED).
//
// Thread-safety: MultiGet and Refresh are safe from any thread.
#pragma once

#include <array>
#include <deque>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/fence.h"
#include "storage/metrics.h"
#include "storage/redis/endpoint.h"
#include "storage/redis/redis_async.h"
#include "storage/redis/redis_connection.h"
#include "storage/tiers.h"

namespace catalog::storage {

// A reply copied out of hiredis, for replies that must outlive the event
// loop's callback.
struct OwnedReply {
  int type = 0;  // REDIS_REPLY_*
  long long integer = 0;
  std::string str;  // STRING, STATUS and ERROR replies.
  std::vector<OwnedReply> elements;
  static OwnedReply Copy(const redisReply& reply);
};

// A command whose every key hashes to `slot`.
struct SlotCommand {
  uint16_t slot = 0;
  RedisCommand command;
  // Never sent twice: a reply lost with its connection or to a timeout
  // fails the call (UNAVAILABLE, or DEADLINE_EXCEEDED) instead, since the
  // command may still run. Redirections (MOVED, ASK, TRYAGAIN) are still
  // followed: Redis ran nothing then.
  bool at_most_once = false;
};

struct ClusterOptions {
  // Some nodes of the cluster, for the first slot map.
  std::vector<HostPort> seeds;
  // Timeouts and pool size for each node (host and port are ignored).
  RedisOptions node;
  // Rounds of redirections followed per call. Default 8.
  int max_attempts = 8;
};

class RedisCluster {
 public:
  // `metrics` must outlive the cluster. Does no I/O: call Refresh first.
  RedisCluster(ClusterOptions options, Metrics* metrics);
  virtual ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // Reads the slot map (CLUSTER SLOTS) from the first node that answers.
  absl::Status Refresh(absl::Time deadline);

  // The values of `keys` (full key names, any slots), aligned with them.
  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> keys, absl::Time deadline);

  // Runs each command on the master owning its slot, every node at once,
  // following redirections as MultiGet does (TRYAGAIN waits and resends
  // instead of splitting). A command not marked at_most_once must be safe
  // to run more than once and late: one whose reply was lost with its
  // connection is sent again, and one that timed out may still run. Error replies other than
  // redirections (a script's own error, OOM) come back as replies for the
  // caller to classify. Replies aligned with `commands`; errors as MultiGet.
  // Virtual so a test double can lose a reply.
  virtual absl::StatusOr<std::vector<OwnedReply>> Exec(std::vector<SlotCommand> commands, absl::Time deadline);

  // One slot of each master in the current map, in address order (reads
  // the map first if none is known): how per-node commands (SCAN) reach
  // every master through Exec.
  absl::StatusOr<std::vector<uint16_t>> MasterSlots(absl::Time deadline);

  // "host:port" owning `slot` in the current map ("" if unknown).
  std::string OwnerOf(uint16_t slot) const;

 private:
  struct Node;
  struct Group;
  Node* NodeAt(const std::string& address);
  // Sends every group's command to its node (or the ASK target), waits
  // for all replies and records each group's outcome.
  void SendRound(std::vector<Group*>& groups, absl::Span<const std::string> keys, absl::Time deadline);
  // Rounds of SendRound until every group is done, following redirections.
  // MGET groups split by TRYAGAIN add their single-key groups to `singles`.
  absl::Status RunRounds(std::vector<Group*> pending, absl::Span<const std::string> keys, absl::Time deadline,
                         std::deque<Group>& singles);
  // The one place a reply to a group's MGET is classified.
  void Classify(Group* group, const std::string& address, absl::StatusOr<const redisReply*> reply);

  const ClusterOptions options_;
  Metrics* const metrics_;
  mutable absl::Mutex mu_;
  std::array<std::string, kSlotCount> owner_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace catalog::storage

// RedisCluster: reads from a Redis Cluster (docs/cluster-design.md). Not yet
// used by the server (the topology refuses cluster deployments until writes
// across nodes land); built and tested against a real cluster first.
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
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // Reads the slot map (CLUSTER SLOTS) from the first node that answers.
  absl::Status Refresh(absl::Time deadline);

  // The values of `keys` (full key names, any slots), aligned with them.
  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> keys, absl::Time deadline);

  // "host:port" owning `slot` in the current map ("" if unknown).
  std::string OwnerOf(uint16_t slot) const;

 private:
  struct Node;
  struct Group;
  Node* NodeAt(const std::string& address);
  // Sends every group's MGET to its node (or the ASK target), waits for
  // all replies and records each group's outcome.
  void SendRound(std::vector<Group*>& groups, absl::Span<const std::string> keys, absl::Time deadline);
  // The one place a reply to a group's MGET is classified.
  void Classify(Group* group, const std::string& address, absl::StatusOr<const redisReply*> reply);

  const ClusterOptions options_;
  Metrics* const metrics_;
  mutable absl::Mutex mu_;
  std::array<std::string, kSlotCount> owner_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace catalog::storage

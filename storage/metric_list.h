// Every metric of catalog-server, declared once: X(name, help).
// Names are exported with the "catalog_" prefix. Counters only grow; gauges
// are set to the latest value.
// Included by storage/metrics.h; do not include elsewhere.

#define CATALOG_COUNTERS(X)                                                                                          \
  X(rpc_requests_total, "gRPC calls received, all methods.")                                                         \
  X(rpc_errors_total, "gRPC calls that ended with a status other than OK.")                                          \
  X(rpc_invalid_argument_total, "gRPC calls rejected by validation (INVALID_ARGUMENT).")                             \
  X(redis_round_trips_total, "Round trips to Redis (a pipeline counts once).")                                       \
  X(redis_errors_total, "Redis round trips that failed (I/O, timeout, error reply).")                                \
  X(redis_connects_total, "New Redis connections opened by the pool.")                                               \
  X(redis_master_changes_total, "Times the Redis master address changed (Sentinel failover or first discovery).")    \
  X(redis_sentinel_errors_total, "Sentinel queries or subscriptions that failed (no answer, unknown master name).")   \
  X(redis_not_master_total, "Redis connections refused because the server was not the master (ROLE, READONLY).")     \
  X(redis_wait_short_total, "Writes applied on the master but confirmed by fewer replicas than redis_write_replicas.") \
  X(redis_replica_changes_total, "Times the replica used for opted-in replica reads changed (or none qualified).")   \
  X(replica_read_keys_total, "Ids answered by a Redis replica (reads with READ_CONSISTENCY_REPLICA_OK).")         \
  X(replica_read_fallbacks_total, "Replica-ok reads sent to the master instead (a miss, an error, no replica).")   \
  X(view_hits_total, "Product views answered from the view cache.")                                                 \
  X(view_misses_total, "Product views assembled from the product and offer records (then cached).")                   \
  X(view_fill_errors_total, "View cache fills that failed (the answer was still given).")                           \
  X(redis_cluster_moves_total, "Redis Cluster MOVED replies followed (a slot's owner changed).")                 \
  X(redis_cluster_asks_total, "Redis Cluster ASK redirections followed (a slot being migrated).")                   \
  X(redis_cluster_tryagains_total, "Redis Cluster TRYAGAIN replies (keys of one slot split by a migration).")      \
  X(redis_cluster_refreshes_total, "Redis Cluster slot map reads (CLUSTER SLOTS).")                                  \
  X(cluster_txn_commits_total, "Writes across Redis Cluster slots that reached their commit point.")               \
  X(cluster_txn_aborts_total, "Writes across Redis Cluster slots that aborted themselves (a changed record or a busy id).") \
  X(cluster_txn_busy_total, "Times a cluster write met another write's intent on an id and retried.")               \
  X(cluster_txn_resolved_total, "Stale cluster write transactions resolved by another writer or the sweep.")        \
  X(mysql_queries_total, "Statements sent to MySQL.")                                                                \
  X(mysql_errors_total, "MySQL statements or connects that failed.")                                                 \
  X(mysql_connects_total, "New MySQL connections opened by the pool.")                                               \
  X(pool_wait_timeouts_total, "Pool leases that timed out waiting for a connection.")                                \
  X(read_keys_total, "Ids requested by reads.")                                                                      \
  X(read_hot_hits_total, "Ids found in L1 or Redis.")                                                              \
  X(read_cold_hits_total, "Ids found only in the MySQL cold tier.")                                                  \
  X(read_misses_total, "Ids found in neither tier (or deleted).")                                                    \
  X(promotions_total, "Cold records written back to Redis.")                                                         \
  X(promotions_skipped_total,                                                                                        \
    "Cold records not written back: a newer value or tombstone was in Redis, or the deadline had passed.")           \
  X(promotion_failures_total, "Write-backs to Redis that failed; the read still succeeded.")                         \
  X(write_conflict_retries_total, "Optimistic write attempts retried after a concurrent change.")                    \
  X(cold_tombstone_failures_total, "Deletes whose tombstones reached Redis but not MySQL (demotion finishes them).") \
  X(request_replays_total, "Upserts answered from the request log (a retry with a known request_id).")               \
  X(version_conflicts_total, "Upserts rejected with ABORTED for a version mismatch.")                                \
  X(demoted_total, "Records moved from Redis to MySQL by demotion.")                                                 \
  X(demote_fenced_total, "Demotion writes to MySQL refused: a newer holder of the demotion lock had written.")       \
  X(demotion_runs_total, "Background demotion runs started by this instance (it held the demotion lock).")            \
  X(demotion_lock_lost_total, "Background demotion runs stopped because this instance no longer held the lock.")      \
  X(demote_skipped_changed_total, "Idle records kept in Redis because they changed during demotion.")                \
  X(tombstones_demoted_total, "Delete tombstones moved from Redis to MySQL by demotion.")                            \
  X(demoted_bytes_total, "Bytes of records and tombstones moved from Redis to MySQL by demotion.")                   \
  X(demote_too_large_total,                                                                                          \
    "Idle records kept in Redis because one alone exceeds MySQL's max_allowed_packet (raise it).")                   \
  X(demote_cold_newer_total,                                                                                         \
    "Idle values kept in Redis because MySQL holds a newer version or another value at the same version (Redis "     \
    "behind MySQL, e.g. after a failover).")                                                                         \
  X(restore_idle_failures_total, "Idle clocks of scanned-but-kept records that could not be restored.")              \
  X(redis_oom_errors_total, "Redis writes refused because Redis is at maxmemory with nothing evictable (OOM).")      \
  X(rpc_overload_rejections_total,                                                                                   \
    "Calls answered RESOURCE_EXHAUSTED at once because max_in_flight_calls were running.")                           \
  X(request_entries_expired_total, "Request-id entries removed after their retention (request_ttl).")                \
  X(redis_info_failures_total, "Periodic Redis INFO polls that failed.")                                           \
  X(l1_hits_total, "Ids of calls answered wholly from the in-process hot tier (L1).")                              \
  X(l1_misses_total, "Ids of calls L1 could not answer wholly (an id not held, or L1 not live).")                  \
  X(l1_fills_total, "Values stored in L1 from Redis replies.")                                                       \
  X(l1_fills_refused_total, "L1 fills refused because the id was invalidated while it was being read.")             \
  X(l1_evictions_total, "L1 entries evicted to stay within l1_max_bytes.")                                           \
  X(l1_invalidations_total, "L1 invalidations applied (from Redis, or from this instance's own writes).")           \
  X(l1_flushes_total, "Times L1 was emptied (invalidation connection lost, or FLUSHALL in Redis).")                 \
  X(l1_subscriptions_total, "Invalidation connections set up (CLIENT TRACKING BCAST + SUBSCRIBE).")                 \
  X(l1_connection_losses_total, "Invalidation connections lost (error, EOF, pong overdue); each empties L1.")   \
  X(http_requests_total, "Requests received on the Connect listener (HTTP/1.1 and h2c), whatever their outcome.")  \
  X(http_rejected_total,                                                                                           \
    "Connect listener requests answered without reaching a method: malformed HTTP, limits, unknown path, wrong "    \
    "HTTP method, content type or header, undecodable JSON, CORS origin not allowed.")                              \
  X(http_connections_refused_total, "Connect listener connections closed at once because http_max_connections were open.") \
  X(http_json_cache_hits_total,                                                                                   \
    "Records in Connect JSON answers copied from the JSON cache (http_json_cache_bytes) instead of written.")       \
  X(http_json_cache_misses_total,                                                                                 \
    "Records in Connect JSON answers not in the JSON cache: written as JSON, then kept (unless larger than a "      \
    "sixteenth of http_json_cache_bytes).")

#define CATALOG_GAUGES(X)                                                                                              \
  X(rpc_in_flight, "Calls being handled now.")                                                                         \
  X(demotion_lock_held, "1 while this instance holds the demotion lock of its Redis deployment, else 0.")              \
  X(demotion_lock_token, "Fencing token of this instance's latest demotion lock holding (0: never held).")              \
  X(demotion_last_success_timestamp_seconds,                                                                            \
    "Unix time this instance last finished a background demotion run (0: never); lag = now - max over instances.")      \
  X(redis_used_memory_bytes, "Redis used_memory at the last INFO poll.")                                               \
  X(redis_maxmemory_bytes, "Redis maxmemory at the last INFO poll (0: no limit).")                                     \
  X(redis_keys, "Keys in Redis db0 at the last INFO poll.")                                                            \
  X(redis_keys_with_ttl,                                                                                               \
    "Keys with a TTL in Redis db0 (the only evictable ones) at the last INFO poll; near zero means Redis is close to " \
    "OOM.")                                                                                                            \
  X(redis_evicted_keys, "Redis's evicted_keys counter at the last INFO poll.")                                         \
  X(redis_maxmemory_policy_ok,                                                                                         \
    "1 if every Redis deployment's maxmemory-policy cannot evict records and keeps idle times, 0 if one can, "        \
    "-1 if one is not known yet.")                                                                                   \
  X(l1_bytes, "Bytes held by L1 (ids, values, bookkeeping).")                                                          \
  X(l1_entries, "Entries held by L1.")                                                                                 \
  X(http_connections, "Connections open on the Connect listener.")                                                  \
  X(http_json_cache_bytes, "Bytes held by the Connect JSON cache (records' encodings, JSON and bookkeeping).")

// Labelled families: X(name, "label,label", help). A series (one set of
// label values) is registered once and then updated lock-free; only
// registered series are exported, so a family shows what happened, e.g. only
// the status codes a method has answered.
#define CATALOG_LABELLED_COUNTERS(X)                                                                                 \
  X(redis_command_errors_total, "pool,operation",                                                                   \
    "Redis round trips that failed (I/O, timeout, error reply, no connection), by pool and first command.")        \
  X(mysql_statement_errors_total, "pool,operation",                                                                 \
    "MySQL statements that failed (or found no connection), by pool and statement kind.")

#define CATALOG_LABELLED_GAUGES(X)                                                                                   \
  X(pool_connections, "pool,state", "Connections of a pool: open (idle or leased) and in_use (leased now).")        \
  X(pool_max_connections, "pool", "Most connections a pool may open (redis_pool_size, mysql_pool_size).")         \
  X(build_info, "version,revision,grpc,protobuf", "Always 1; the labels say which build is running.")

#define CATALOG_LABELLED_HISTOGRAMS(X)                                                                               \
  X(rpc_duration_seconds, "service,method,code",                                                                    \
    "Time from receiving a gRPC call to its status; _count is the number of calls, by service, method and code.")   \
  X(redis_command_duration_seconds, "pool,operation",                                                               \
    "Time of one Redis round trip (a pipeline counts once), by pool and first command.")                            \
  X(mysql_statement_duration_seconds, "pool,operation", "Time of one MySQL statement, by pool and statement kind.") \
  X(pool_wait_seconds, "pool", "Time spent waiting for a pooled connection (0 when one was idle).")

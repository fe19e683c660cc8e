// Every catalog-server option, declared once. Each can be given as a flag
// (--name=value) or an environment variable (CATALOG_NAME); a flag wins.
// Included by service/config.h; do not include elsewhere.

// X(name, default, min, max, help)
#define CATALOG_INT_OPTIONS(X)                                                                                         \
  X(redis_port, 6379, 1, 65535, "Redis primary tier TCP port.")                                                        \
  X(redis_pool_size, 32, 1, 4096, "Most Redis connections open at once.")                                              \
  X(redis_connect_timeout_ms, 250, 1, 60000, "Bound on opening one Redis connection.")                                 \
  X(redis_async_connections, 2, 0, 64,                                                                                 \
    "Event-loop threads (one Redis connection each) serving the reads without blocking a thread; 0: sync reads.")    \
  X(redis_replica_connections, 1, 0, 64,                                                                               \
    "With redis_sentinels: event-loop connections to one replica at most ~1 s behind, for v2 reads that opt in "      \
    "(READ_CONSISTENCY_REPLICA_OK); 0: those reads go to the master too. Needs redis_async_connections > 0.")         \
  X(l1_max_bytes, 134217728, 0, 68719476736,                                                                           \
    "Bytes of the in-process hot tier (L1) in front of Redis, invalidated by Redis client-side caching; 0: off.")     \
  X(l1_lease_ms, 500, 10, 60000,                                                                                       \
    "L1 serves only this long after Redis last proved its invalidations delivered (a pong); bounds staleness if "    \
    "they stop arriving.")                                                                                             \
  X(redis_write_replicas, 0, 0, 64,                                                                                    \
    "Acknowledge a write only once this many Redis replicas confirm it (WAIT); 0: once the master applied it. "      \
    "README, Failover, says what each loses.")                                                                         \
  X(redis_wait_timeout_ms, 100, 1, 60000,                                                                              \
    "How long a write waits for redis_write_replicas; past it UNAVAILABLE (applied, not confirmed; retry is safe).")  \
  X(cold_read_threads, 8, 1, 1024, "Threads that finish async batch reads needing MySQL (misses).")                    \
  X(redis_command_timeout_ms, 1000, 1, 60000, "Bound on one Redis round trip, whatever the deadline.")                 \
  X(mysql_port, 3306, 1, 65535, "MySQL/MariaDB cold tier TCP port.")                                                   \
  X(mysql_pool_size, 8, 1, 1024, "Most MySQL connections open at once.")                                               \
  X(mysql_connect_timeout_s, 1, 1, 60, "Bound on opening one MySQL connection (whole seconds).")                       \
  X(mysql_io_timeout_s, 1, 1, 600, "Bound on one MySQL read or write (whole seconds).")                                \
  X(pool_wait_timeout_ms, 0, 0, 60000,                                                                                 \
    "Longest wait for a free pooled connection before UNAVAILABLE (0: until the call's deadline).")                    \
  X(max_batch_size, 1000, 1, 100000, "Most ids or products in one batch call.")                                        \
  X(max_call_ms, 5000, 10, 600000, "Cap on any call's deadline (also the default).")                                   \
  X(write_attempts, 8, 1, 1000, "Optimistic compare-and-set attempts per write before ABORTED.")                       \
  X(max_message_bytes, 4194304, 4096, 1073741824,                                                                      \
    "Largest request or answer; answers that would exceed it are refused with a message (default: a default client's " \
    "receive limit).")                                                                                                 \
  X(max_record_bytes, 65536, 256, 16777216,                                                                            \
    "Largest stored product encoding, unknown fields included (INVALID_ARGUMENT above it).")                           \
  X(max_in_flight_calls, 2000, 1, 1000000, "Calls handled at once; beyond it calls get RESOURCE_EXHAUSTED at once.")   \
  X(grpc_memory_quota_bytes, 268435456, 16777216, 68719476736,                                                         \
    "Memory gRPC may use for requests in flight (gRPC ResourceQuota).")                                                \
  X(redis_info_interval_ms, 5000, 100, 3600000,                                                                        \
    "How often Redis INFO is polled for the redis_* gauges and the maxmemory-policy check.")                           \
  X(request_ttl_s, 86400, 1, 2592000, "How long a v2 request_id answers retries with the first result.")               \
  X(access_log_every, 1000, 0, 1000000000,                                                                            \
    "One call in this many writes an access line (channel access: method, code, duration, peer, request id); 0: none.") \
  X(log_max_lines_per_second, 200, 0, 1000000,                                                                        \
    "Most lines one log channel writes in a second; the rest are counted in one line after. 0: no limit.")           \
  X(count_metrics, 1, 0, 1,                                                                                            \
    "1: update counters and histograms; 0: leave them at zero (to measure their cost; gauges still work).")          \
  X(demote_interval_s, 300, 0, 86400,                                                                                 \
    "Background demotion: how often an instance tries a run (under the demotion lock: one instance at a time); 0: "  \
    "off, catalog-admin demote only.")                                                                                \
  X(demote_idle_s, 86400, 0, 31536000, "Background demotion moves records unused this long to MySQL.")                \
  X(demote_pressure_idle_s, 3600, 0, 31536000,                                                                         \
    "Under memory pressure (see demote_target_bytes) background demotion also moves records unused this long.")        \
  X(demote_target_bytes, 0, 0, 1099511627776,                                                                          \
    "used_memory of a record type's Redis above which its demotion is under pressure; 0: 80% of its maxmemory.")    \
  X(demote_max_records, 100000, 1, 100000000, "Most records one background demotion run moves.")                      \
  X(demote_lock_ttl_ms, 30000, 100, 600000,                                                                            \
    "How long a demotion lock holding lasts unless renewed (before every page); a paused holder loses it after this.") \
  X(view_cache_ttl_s, 300, 1, 86400,                                                                                  \
    "How long an assembled product view (product + offer of one market) stays cached in Redis (volatile-lru).")      \
  X(shutdown_grace_ms, 10000, 0, 600000, "On SIGTERM, how long in-flight calls may take to finish.")                   \
  X(drain_delay_ms, 0, 0, 600000,                                                                                      \
    "On SIGTERM, report NOT_SERVING (gRPC health, GET /ready) and keep serving this long before the listeners stop, "  \
    "so balancers stop sending calls first: above their check interval times fall count (deploy/haproxy: 3000).")    \
  X(grpc_completion_queues, 1, 1, 64, "gRPC sync server completion queues.")                                           \
  X(grpc_min_pollers, 2, 1, 1024, "gRPC sync server threads kept polling for new calls.")                              \
  X(grpc_max_pollers, 16, 1, 4096,                                                                                     \
    "gRPC sync server polling threads kept alive between calls (fewer: threads are created and destroyed per call).") \
  X(http_io_threads, 1, 1, 64, "Threads serving the Connect listener's connections (epoll loops).")                   \
  X(http_max_connections, 10000, 1, 1000000,                                                                           \
    "Connections the Connect listener keeps open at once; more are closed as soon as they are accepted.")            \
  X(http_idle_timeout_ms, 60000, 100, 3600000,                                                                         \
    "Connect listener: a connection idle this long is closed, and a request not received whole in this time gets "  \
    "408.")                                                                                                            \
  X(http_max_concurrent_streams, 100, 1, 10000, "Connect listener over h2c: streams (calls) at once per connection.") \
  X(http_json_cache_bytes, 67108864, 0, 68719476736,                                                                   \
    "Connect JSON answers: bytes of records' JSON kept, found again by their exact encoding (so never stale), so a "  \
    "record read often is written as JSON once; 0: off.")

// X(name, default, help)
#define CATALOG_STRING_OPTIONS(X)                                                                             \
  X(listen_address, "127.0.0.1:50051", "host:port the gRPC server listens on.")                               \
  X(metrics_listen_address, "", "host:port serving GET /metrics over HTTP (empty: off).")                     \
  X(http_listen_address, "",                                                                                  \
    "host:port serving every catalog.v1/v2 method over the Connect protocol (HTTP/1.1 and h2c; JSON or "      \
    "binary protobuf), for PHP and browser callers without gRPC (README, Connect). Empty: off.")             \
  X(http_cors_allowed_origins, "",                                                                            \
    "Comma-separated origins browsers may call the Connect listener from (https://shop.example.com), or *; "  \
    "empty: no CORS (browsers on other origins are refused).")                                               \
  X(admin_listen_address, "127.0.0.1:50052",                                                                  \
    "host:port of the admin plane (catalog.admin.v1: demote, metrics; its own reflection), apart from the "    \
    "public port. A non-loopback host needs admin_token_file. Empty: no admin plane.")                        \
  X(admin_token_file, "",                                                                                     \
    "File holding the bearer token every admin call must carry (metadata authorization: Bearer <token>); "    \
    "empty: none (then admin_listen_address must be a loopback address).")                                    \
  X(tls_cert_file, "",                                                                                        \
    "PEM certificate chain the gRPC listeners (public and admin) present; with tls_key_file, they serve TLS "  \
    "only. Empty: plaintext (behind a TLS-terminating balancer or on loopback).")                             \
  X(tls_key_file, "", "PEM private key of tls_cert_file.")                                                    \
  X(tls_client_ca_file, "",                                                                                   \
    "PEM CA certificates: with TLS on, every client must present a certificate one of them signed (mTLS). "   \
    "Empty: no client certificate asked for.")                                                                \
  X(log_level, "info",                                                                                        \
    "Least severe log lines written, every channel: debug (every call), info, warning, error. JSON, one object "  \
    "a line; catalog-admin log-level changes a channel's while running.")                                       \
  X(log_channel_levels, "",                                                                                   \
    "Per-channel levels over log_level, e.g. \"rpc=debug,storage=warning\"; channels rpc, access, storage, "     \
    "tiering, admin, server.")                                                                                 \
  X(log_dir, "",                                                                                              \
    "Directory for one file per channel (<channel>.log, every line whole); stderr then keeps a short line of "  \
    "each and warnings and errors whole. Empty: everything to stderr.")                                       \
  X(topology_file, "",                                                                                        \
    "Text-format catalog.config.v1.Topology (proto/catalog/config/v1/topology.proto) placing each record "    \
    "type on a Redis deployment and a MySQL database; empty: the redis_* and mysql_* options, one of each.")  \
  X(redis_host, "127.0.0.1", "Redis primary tier host (name or address).")                                    \
  X(redis_sentinels, "",                                                                                      \
    "Comma-separated host:port of Redis Sentinels: the master is found and followed through them "            \
    "(redis_host and redis_port are then unused). Empty: a standalone Redis at redis_host:redis_port.")       \
  X(redis_master_name, "catalog", "With redis_sentinels: the name the sentinels monitor the master under.")  \
  X(redis_user, "",                                                                                           \
    "Redis ACL user sent with AUTH on every connection to a data node (not to sentinels); empty with a "       \
    "password: the default user (requirepass). Example ACL: deploy/redis/catalog.acl.")                       \
  X(redis_password, "", "Redis password; prefer CATALOG_REDIS_PASSWORD or redis_password_file. Empty: no AUTH.") \
  X(redis_password_file, "", "File holding the Redis password; not together with redis_password.")            \
  X(redis_tls_ca_file, "",                                                                                    \
    "PEM CA file: every Redis connection (data nodes and sentinels) uses TLS, and the server's certificate "  \
    "must be signed by it and name the address dialled (or redis_tls_server_name); empty: plain TCP. L1 is "  \
    "off over TLS (README, Redis over TLS).")                                                                 \
  X(redis_tls_cert_file, "", "PEM client certificate for Redis over TLS (servers with tls-auth-clients).")   \
  X(redis_tls_key_file, "", "PEM private key of redis_tls_cert_file.")                                        \
  X(redis_tls_server_name, "",                                                                                \
    "Name Redis's certificates must carry instead of the address dialled (host names are resolved first); "  \
    "empty: that address.")                                                                                   \
  X(mysql_host, "127.0.0.1", "MySQL/MariaDB cold tier host.")                                                 \
  X(mysql_user, "catalog", "MySQL user.")                                                                     \
  X(mysql_password, "",                                                                                        \
    "MySQL password; prefer the environment (CATALOG_MYSQL_PASSWORD) or mysql_password_file: a command line is " \
    "readable by every local user (/proc/PID/cmdline).")                                                        \
  X(mysql_password_file, "",                                                                                   \
    "File holding the MySQL password (one trailing newline ignored); not together with mysql_password.")        \
  X(mysql_tls_ca_file, "",                                                                                    \
    "PEM CA file: every MySQL connection uses TLS, and the server's certificate must be signed by it and name " \
    "mysql_host; empty: no TLS.")                                                                              \
  X(mysql_tls_cert_file, "", "PEM client certificate for MySQL over TLS (accounts that REQUIRE X509).")        \
  X(mysql_tls_key_file, "", "PEM private key of mysql_tls_cert_file.")                                         \
  X(migrate_mysql_user, "catalog_migrate",                                                                     \
    "The account `catalog-server migrate` (the schema step) uses on every MySQL database, with or without a "  \
    "topology file; serving never uses it.")                                                                   \
  X(migrate_mysql_password, "", "Password of migrate_mysql_user; prefer CATALOG_MIGRATE_MYSQL_PASSWORD or the file.") \
  X(migrate_mysql_password_file, "",                                                                           \
    "File holding migrate_mysql_user's password; not together with migrate_mysql_password.")                   \
  X(mysql_database, "catalog", "MySQL database holding the products table.")

// ClusterCas against a real local cluster (3 masters, 3 replicas): batches
// across every node all or nothing, writers paused between steps while
// others write, concurrent writers with a sweep that resolves them mid-way,
// and writes during a live reshard.
#include "storage/redis/cluster_cas.h"

#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "storage/record_types.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

using catalog::testing::RedisClusterProcesses;
using catalog::testing::RedisServer;

absl::Time Later() { return absl::Now() + absl::Seconds(10); }

const RecordType& Type() { return ProductRecordType(); }

std::string RecordKey(const std::string& id) { return Type().key_prefix + id; }

// A writer that stops after step `pause_at` until released.
class PausingCas : public ClusterCas {
 public:
  PausingCas(RedisCluster* cluster, Metrics* metrics, Step pause_at, ClusterCasOptions options = {})
      : ClusterCas(cluster, Type(), metrics, options), pause_at_(pause_at) {}
  absl::Notification reached, release;
  std::string txn_key;  // Set before `reached`.

 protected:
  void AfterStep(Step step, const std::string& key) override {
    if (step != pause_at_) return;
    txn_key = key;
    reached.Notify();
    release.WaitForNotification();
  }

 private:
  const Step pause_at_;
};

// A cluster client that runs one kind of step and then loses its reply
// (as a connection dropped after the command ran would).
class LosingCluster : public RedisCluster {
 public:
  LosingCluster(ClusterOptions options, Metrics* metrics, std::string script_marker)
      : RedisCluster(std::move(options), metrics), marker_(std::move(script_marker)) {}
  std::atomic<int> lost{0};

  absl::StatusOr<std::vector<OwnedReply>> Exec(std::vector<SlotCommand> commands, absl::Time deadline) override {
    const bool lose = !commands.empty() && commands[0].command.size() > 1 &&
                      commands[0].command[1].find(marker_) != std::string::npos && lost == 0;
    auto replies = RedisCluster::Exec(std::move(commands), deadline);
    if (!lose || !replies.ok()) return replies;
    ++lost;
    return absl::UnavailableError("reply lost (test)");
  }

 private:
  const std::string marker_;
};

struct Fixture {
  RedisClusterProcesses cluster;
  Metrics metrics;
  RedisCluster client;
  explicit Fixture(absl::Duration command_timeout = absl::Seconds(1))
      : client(
            [&] {
              ClusterOptions options;
              options.seeds = {HostPort{"127.0.0.1", cluster.nodes[0]->port()}};
              options.node.command_timeout = command_timeout;
              return options;
            }(),
            &metrics) {
    REQUIRE(client.Refresh(Later()).ok());
  }

  // `n` ids whose records span every master.
  std::vector<std::string> Ids(int n, const std::string& prefix = "c") {
    std::vector<std::string> ids;
    std::set<std::string> owners;
    for (int i = 0; i < n; ++i) {
      ids.push_back(absl::StrCat(prefix, i));
      owners.insert(client.OwnerOf(KeySlot(RecordKey(ids.back()))));
    }
    REQUIRE(owners.size() == 3);
    return ids;
  }

  // The master serving `key` now (as the client's map says).
  RedisServer* MasterOf(const std::string& key) {
    const std::string owner = client.OwnerOf(KeySlot(key));
    for (size_t i = 0; i < 3; ++i) {
      if (cluster.Addresses()[i] == owner) return cluster.nodes[i].get();
    }
    FAIL("no master serves " << key);
    return nullptr;
  }

  std::vector<MaybeValue> Read(const std::vector<std::string>& ids) {
    std::vector<std::string> keys;
    for (const std::string& id : ids) keys.push_back(RecordKey(id));
    auto values = client.MultiGet(keys, Later());
    REQUIRE(values.ok());
    return *values;
  }

  // Transaction keys (records, open sets, intents) on every master.
  long long TxnKeys() {
    long long n = 0;
    for (size_t i = 0; i < 3; ++i) {
      auto reply = cluster.nodes[i]->Command({"KEYS", Type().txn_prefix + "*"});
      REQUIRE(reply->type == REDIS_REPLY_ARRAY);
      n += static_cast<long long>(reply->elements);  // An emptied open set is gone too.
    }
    return n;
  }

  long long Evals() {
    long long n = 0;
    for (size_t i = 0; i < 3; ++i) n += cluster.nodes[i]->CommandCalls("eval");
    return n;
  }
};

std::vector<CasEntry> Creates(const std::vector<std::string>& ids, const std::string& value) {
  std::vector<CasEntry> entries;
  for (const std::string& id : ids) entries.push_back({id, std::nullopt, std::nullopt, value + "-" + id});
  return entries;
}

size_t Slots(const std::vector<std::string>& ids) {
  std::set<uint16_t> slots;
  for (const std::string& id : ids) slots.insert(KeySlot(RecordKey(id)));
  return slots.size();
}

TEST_CASE("cluster cas: a batch across every node is applied whole in one script per slot per step") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(30);
  for (auto& node : f.cluster.nodes) node->ResetStats();
  auto result = cas.CompareAndSet(Creates(ids, "v1"), nullptr, Later());
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  CHECK(result->outcome == CasResult::Outcome::kApplied);
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "v1-" + ids[i]);
  CHECK(f.TxnKeys() == 0);
  // Begin, commit, finish on the bucket; prepare and apply once per slot.
  CHECK(f.Evals() == static_cast<long long>(3 + 2 * Slots(ids)));

  // A second batch expecting those values replaces them all.
  std::vector<CasEntry> updates;
  for (size_t i = 0; i < ids.size(); ++i) updates.push_back({ids[i], values[i], std::nullopt, "v2-" + ids[i]});
  result = cas.CompareAndSet(updates, nullptr, Later());
  REQUIRE(result.ok());
  CHECK(result->outcome == CasResult::Outcome::kApplied);
  const std::vector<MaybeValue> after = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(after[i].value_or("") == "v2-" + ids[i]);
  CHECK(f.metrics.Get(Counter::cluster_txn_commits_total) == 2);
}

TEST_CASE("cluster cas: one failed expectation on one node writes nothing on any node") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(30);
  // One record exists already: "absent" is wrong for it.
  REQUIRE(cas.CompareAndSet(Creates({ids[17]}, "other"), nullptr, Later())->outcome ==
          CasResult::Outcome::kApplied);
  auto result = cas.CompareAndSet(Creates(ids, "v1"), nullptr, Later());
  REQUIRE(result.ok());
  CHECK(result->outcome == CasResult::Outcome::kChanged);
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK(values[i] == (i == 17 ? MaybeValue("other-" + ids[17]) : MaybeValue()));
  }
  CHECK(f.TxnKeys() == 0);  // Its intents are released.
  CHECK(f.metrics.Get(Counter::cluster_txn_aborts_total) == 1);

  // A wrong fence expectation is refused likewise (no fence exists: "absent
  // with fence X" is stale).
  std::vector<CasEntry> fenced = Creates(ids, "v3");
  fenced.erase(fenced.begin() + 17);
  fenced[3].fence = "token-that-is-not-there";
  result = cas.CompareAndSet(fenced, nullptr, Later());
  REQUIRE(result.ok());
  CHECK(result->outcome == CasResult::Outcome::kChanged);
  CHECK_FALSE(f.Read({ids[0]})[0].has_value());
}

TEST_CASE("cluster cas: a request id answers a retry with the first outcome and writes nothing more") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(12);
  const RequestEntry request{"req-1", "answer-1", absl::Minutes(5)};
  auto first = cas.CompareAndSet(Creates(ids, "v1"), &request, Later());
  REQUIRE(first.ok());
  CHECK(first->outcome == CasResult::Outcome::kApplied);
  CHECK(cas.GetRequest("req-1", Later()).value() == MaybeValue("answer-1"));
  CHECK(cas.GetRequest("req-2", Later()).value() == MaybeValue());

  // The same request id again, with other values: the recorded answer.
  const RequestEntry again{"req-1", "answer-2", absl::Minutes(5)};
  auto second = cas.CompareAndSet(Creates(f.Ids(12, "d"), "v2"), &again, Later());
  REQUIRE(second.ok());
  CHECK(second->outcome == CasResult::Outcome::kRequestDone);
  CHECK(second->recorded == "answer-1");
  for (const MaybeValue& value : f.Read(f.Ids(12, "d"))) CHECK_FALSE(value.has_value());
  CHECK(f.TxnKeys() == 0);
}

TEST_CASE("cluster cas: write-back and demotion leave a record with an intent alone") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(20);
  const std::vector<std::string> present(ids.begin(), ids.begin() + 10), absent(ids.begin() + 10, ids.end());
  REQUIRE(cas.CompareAndSet(Creates(present, "old"), nullptr, Later())->outcome == CasResult::Outcome::kApplied);

  // A writer prepared on every id (absent ones expected absent), paused.
  PausingCas paused(&f.client, &f.metrics, ClusterCas::Step::kPrepared);
  std::vector<CasEntry> entries = Creates(absent, "w");
  for (const std::string& id : present) entries.push_back({id, "old-" + id, std::nullopt, "w-" + id});
  absl::StatusOr<CasResult> result;
  std::thread w([&] { result = paused.CompareAndSet(entries, nullptr, Later()); });
  paused.reached.WaitForNotification();
  std::vector<Promotion> cold;
  for (const std::string& id : absent) cold.push_back({id, "cold-" + id, std::nullopt});
  std::vector<IdValue> demote;
  for (const std::string& id : present) demote.push_back({id, "old-" + id});
  auto promoted = cas.Promote(cold, Later());
  auto deleted = cas.CompareAndDelete(demote, Later());
  REQUIRE(promoted.ok());
  REQUIRE(deleted.ok());
  for (bool stored : *promoted) CHECK_FALSE(stored);
  for (bool gone : *deleted) CHECK_FALSE(gone);
  paused.release.Notify();
  w.join();
  REQUIRE(result.ok());
  CHECK(result->outcome == CasResult::Outcome::kApplied);  // Its expectations held throughout.

  // Without intents: demotion deletes and fences; a write-back needs the
  // new fence.
  demote.clear();
  for (const std::string& id : ids) demote.push_back({id, "w-" + id});
  deleted = cas.CompareAndDelete(demote, Later());
  REQUIRE(deleted.ok());
  for (bool gone : *deleted) CHECK(gone);
  for (const MaybeValue& value : f.Read(ids)) CHECK_FALSE(value.has_value());
  cold.clear();
  for (const std::string& id : ids) cold.push_back({id, "cold-" + id, std::nullopt});
  promoted = cas.Promote(cold, Later());
  REQUIRE(promoted.ok());
  for (bool stored : *promoted) CHECK_FALSE(stored);  // The fence moved on.
  std::vector<std::string> fence_keys;
  for (const std::string& id : ids) fence_keys.push_back(FenceKey(Type().fence_prefix, RecordKey(id)));
  auto fences = f.client.MultiGet(fence_keys, Later());
  REQUIRE(fences.ok());
  for (size_t i = 0; i < ids.size(); ++i) {
    REQUIRE((*fences)[i].has_value());
    cold[i].fence = (*fences)[i];
  }
  promoted = cas.Promote(cold, Later());
  REQUIRE(promoted.ok());
  for (bool stored : *promoted) CHECK(stored);
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "cold-" + ids[i]);
}

TEST_CASE("cluster cas: an idle scan visits every master once and finds every record") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(300, "s");
  REQUIRE(cas.CompareAndSet(Creates(ids, "v"), nullptr, Later())->outcome == CasResult::Outcome::kApplied);
  std::map<std::string, std::string> seen;
  int64_t scanned = 0;
  int pages = 0;
  uint64_t cursor = 0;
  do {
    auto page = cas.ScanIdle(cursor, absl::ZeroDuration(), 50, 1000, Later());
    INFO(page.status().ToString());
    REQUIRE(page.ok());
    scanned += page->scanned;
    for (const IdleValue& entry : page->idle) seen[entry.id] = entry.value;
    cursor = page->next_cursor;
    REQUIRE(++pages < 1000);
  } while (cursor != 0);
  CHECK(scanned >= 300);  // SCAN may repeat a key, never miss one.
  REQUIRE(seen.size() == ids.size());
  for (const std::string& id : ids) CHECK(seen[id] == "v-" + id);
  // Nothing has been idle for an hour (a whole scan).
  cursor = 0;
  pages = 0;
  do {
    auto none = cas.ScanIdle(cursor, absl::Hours(1), 1000, 1000, Later());
    REQUIRE(none.ok());
    CHECK(none->idle.empty());
    cursor = none->next_cursor;
    REQUIRE(++pages < 1000);
  } while (cursor != 0);
  // Restored idle clocks (two hours) make every record idle for an hour;
  // values stay as they are.
  std::vector<IdleValue> entries;
  for (const std::string& id : ids) entries.push_back({id, "v-" + id, 7200});
  REQUIRE(cas.RestoreIdle(entries, absl::ZeroDuration(), Later()).ok());
  std::set<std::string> idle;
  cursor = 0;
  do {
    auto page = cas.ScanIdle(cursor, absl::Hours(1), 50, 1000, Later());
    REQUIRE(page.ok());
    for (const IdleValue& entry : page->idle) {
      CHECK(entry.idle_seconds >= 7200);
      idle.insert(entry.id);
    }
    cursor = page->next_cursor;
    REQUIRE(++pages < 2000);
  } while (cursor != 0);
  CHECK(idle.size() == ids.size());
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "v-" + ids[i]);
}

TEST_CASE("cluster cas: the sweep releases an intent whose transaction is gone, and the record moves again") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::string id = "orphan";
  // As a prepare copy that ran after its transaction was finished leaves it.
  const std::string intent = cas.IntentKey(id);
  RedisServer* node = f.MasterOf(intent);
  const std::string gone_txn = Type().txn_prefix + "{0}" + "feedbeef";
  REQUIRE(node->Command({"SET", intent, "feedbeef\n" + gone_txn + "\n1000\n=late"})->type == REDIS_REPLY_STATUS);
  // It blocks a write-back.
  const std::vector<Promotion> cold = {{id, "cold", std::nullopt}};
  CHECK_FALSE(cas.Promote(cold, Later()).value()[0]);
  // Another intent, written now: a one-hour threshold leaves it alone.
  const std::string young = cas.IntentKey("young");
  RedisServer* young_node = f.MasterOf(young);
  auto now = young_node->Command({"TIME"});
  const std::string now_ms = std::to_string(std::stoll(now->element[0]->str) * 1000);
  // Named with a transaction id that matches its key, so that a release
  // would delete it if the age check let it through.
  const std::string young_txn = Type().txn_prefix + "{0}" + "cafe";
  REQUIRE(young_node->Command({"SET", young, "cafe\n" + young_txn + "\n" + now_ms + "\n=late"})->type ==
          REDIS_REPLY_STATUS);
  auto resolved = cas.ResolveStale(absl::Hours(1), Later());
  INFO(resolved.status().ToString());
  REQUIRE(resolved.ok());
  CHECK(*resolved == 1);  // The old one only.
  CHECK(node->Command({"EXISTS", intent})->integer == 0);
  CHECK(young_node->Command({"EXISTS", young})->integer == 1);
  CHECK(f.Read({id})[0] == MaybeValue());  // Released, not applied.
  CHECK(cas.Promote(cold, Later()).value()[0]);
}

TEST_CASE("cluster cas: the intent sweep reads a bounded slice of each master per call and resumes") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  const std::string intent = cas.IntentKey("deep");
  RedisServer* node = f.MasterOf(intent);
  // 40,000 other keys on the intent's master (its slot, so one script
  // writes them): more than one call's 16 SCAN pages of 1000.
  const std::string tag = intent.substr(intent.find('{'), intent.find('}') - intent.find('{') + 1);
  REQUIRE(node->Command({"EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('SET', KEYS[1] .. i, 'x') end",
                         "1", tag + "junk:", "40000"})
              ->type != REDIS_REPLY_ERROR);
  REQUIRE(node->Command({"SET", intent, "0ld\n" + Type().txn_prefix + "{0}0ld\n1000\n=late"})->type ==
          REDIS_REPLY_STATUS);
  int calls = 0;
  int64_t resolved = 0;
  long long most_scans = 0;
  while (resolved == 0) {
    node->ResetStats();
    auto n = cas.ResolveStale(absl::Hours(1), Later());
    INFO(n.status().ToString());
    REQUIRE(n.ok());
    resolved += *n;
    most_scans = std::max(most_scans, node->CommandCalls("scan"));
    REQUIRE(++calls <= 40);
  }
  CHECK(resolved == 1);
  CHECK(node->Command({"EXISTS", intent})->integer == 0);
  CHECK(most_scans <= 16);  // The bound, on the server.
  INFO("calls until the intent was found: " << calls);
  // The whole master is about 40 pages of 1000: the sweep resumed rather
  // than starting over (SCAN may place the key anywhere in that order).
  CHECK(calls <= 5);
}

TEST_CASE("cluster cas: request entries past their ttl are expired, the others stay") {
  Fixture f;
  ClusterCas cas(&f.client, Type(), &f.metrics);
  // Request ids in several buckets; half with a 1 ms ttl.
  for (int i = 0; i < 8; ++i) {
    const RequestEntry request{absl::StrCat("req-", i), absl::StrCat("answer-", i),
                               i % 2 == 0 ? absl::Milliseconds(1) : absl::Minutes(5)};
    REQUIRE(cas.CompareAndSet(Creates({absl::StrCat("e", i)}, "v"), &request, Later())->outcome ==
            CasResult::Outcome::kApplied);
  }
  absl::SleepFor(absl::Milliseconds(20));
  auto removed = cas.ExpireRequests(100, Later());
  INFO(removed.status().ToString());
  REQUIRE(removed.ok());
  CHECK(*removed == 4);
  for (int i = 0; i < 8; ++i) {
    const MaybeValue expected = i % 2 == 0 ? MaybeValue() : MaybeValue(absl::StrCat("answer-", i));
    CHECK(cas.GetRequest(absl::StrCat("req-", i), Later()).value() == expected);
  }
  CHECK(cas.ExpireRequests(100, Later()).value() == 0);
}

TEST_CASE("cluster cas: a writer paused after prepare loses to a writer that resolves it, and writes nothing") {
  Fixture f;
  ClusterCasOptions quick;
  quick.stale_after = absl::Milliseconds(300);
  PausingCas paused(&f.client, &f.metrics, ClusterCas::Step::kPrepared);
  ClusterCas other(&f.client, Type(), &f.metrics, quick);
  const std::vector<std::string> ids = f.Ids(30);

  absl::StatusOr<CasResult> paused_result;
  std::thread a([&] { paused_result = paused.CompareAndSet(Creates(ids, "a"), nullptr, Later()); });
  paused.reached.WaitForNotification();
  // Its intents are invisible: readers see the old (absent) values.
  for (const MaybeValue& value : f.Read(ids)) CHECK_FALSE(value.has_value());

  // The other writer waits for it, then finds it stale and aborts it.
  std::vector<std::string> overlap(ids.begin() + 10, ids.end());
  auto b = other.CompareAndSet(Creates(overlap, "b"), nullptr, Later());
  INFO(b.status().ToString());
  REQUIRE(b.ok());
  CHECK(b->outcome == CasResult::Outcome::kApplied);
  CHECK(f.metrics.Get(Counter::cluster_txn_resolved_total) >= 1);
  CHECK(f.metrics.Get(Counter::cluster_txn_busy_total) >= 1);

  paused.release.Notify();
  a.join();
  REQUIRE(paused_result.ok());
  CHECK(paused_result->outcome == CasResult::Outcome::kChanged);  // Its commit was refused.
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK(values[i] == (i >= 10 ? MaybeValue("b-" + ids[i]) : MaybeValue()));
  }
  CHECK(f.TxnKeys() == 0);
}

TEST_CASE("cluster cas: a writer paused after its commit is applied by the sweep, and a later writer sees it") {
  Fixture f;
  PausingCas paused(&f.client, &f.metrics, ClusterCas::Step::kCommitted);
  ClusterCas sweeper(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(30);

  absl::StatusOr<CasResult> paused_result;
  std::thread a([&] { paused_result = paused.CompareAndSet(Creates(ids, "a"), nullptr, Later()); });
  paused.reached.WaitForNotification();
  for (const MaybeValue& value : f.Read(ids)) CHECK_FALSE(value.has_value());  // Committed, not applied.

  // The sweep (the maintenance loop's call) applies the committed batch.
  auto resolved = sweeper.ResolveStale(absl::ZeroDuration(), Later());
  REQUIRE(resolved.ok());
  CHECK(*resolved == 1);
  std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "a-" + ids[i]);
  // A writer that expected the old values now fails its check.
  auto late = sweeper.CompareAndSet(Creates({ids[0], ids[29]}, "b"), nullptr, Later());
  REQUIRE(late.ok());
  CHECK(late->outcome == CasResult::Outcome::kChanged);

  paused.release.Notify();
  a.join();
  REQUIRE(paused_result.ok());
  CHECK(paused_result->outcome == CasResult::Outcome::kApplied);
  values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "a-" + ids[i]);
  CHECK(f.TxnKeys() == 0);
}

TEST_CASE("cluster cas: a writer that met a committed writer's intent applies it before it checks") {
  Fixture f;
  ClusterCasOptions quick;
  quick.stale_after = absl::Milliseconds(200);
  PausingCas paused(&f.client, &f.metrics, ClusterCas::Step::kCommitted);
  ClusterCas other(&f.client, Type(), &f.metrics, quick);
  const std::vector<std::string> ids = f.Ids(20);
  std::thread a([&] { (void)paused.CompareAndSet(Creates(ids, "a"), nullptr, Later()); });
  paused.reached.WaitForNotification();
  // Expecting "absent" for one id: the committed batch is applied first, so
  // the check fails instead of overwriting a committed value.
  auto b = other.CompareAndSet(Creates({ids[5]}, "b"), nullptr, Later());
  REQUIRE(b.ok());
  CHECK(b->outcome == CasResult::Outcome::kChanged);
  CHECK(f.Read({ids[5]})[0].value_or("") == "a-" + ids[5]);
  paused.release.Notify();
  a.join();
  CHECK(f.TxnKeys() == 0);
}

TEST_CASE("cluster cas: a node stopped during prepare fails the write, which then writes nothing anywhere") {
  // Short timeouts, so the node usually comes back before the cluster's node
  // timeout (2 s) fails it over; the assertions hold either way.
  Fixture f(absl::Milliseconds(300));
  PausingCas writer(&f.client, &f.metrics, ClusterCas::Step::kBegun);
  const std::vector<std::string> ids = f.Ids(30);
  absl::StatusOr<CasResult> result;
  std::thread w([&] { result = writer.CompareAndSet(Creates(ids, "w"), nullptr, absl::Now() + absl::Seconds(1)); });
  writer.reached.WaitForNotification();
  // Stop a master that holds some of the ids but not the transaction record.
  const std::string bucket_owner = f.client.OwnerOf(KeySlot(writer.txn_key));
  size_t victim = 3;
  for (size_t i = 0; i < 3 && victim == 3; ++i) {
    if (f.cluster.Addresses()[i] != bucket_owner) victim = i;
  }
  REQUIRE(victim < 3);
  const std::string victim_address = f.cluster.Addresses()[victim];
  REQUIRE(kill(f.cluster.nodes[victim]->pid(), SIGSTOP) == 0);
  writer.release.Notify();  // Its prepare on the stopped node gets no answer.
  w.join();
  INFO(result.status().ToString());
  CHECK((absl::IsUnavailable(result.status()) || absl::IsDeadlineExceeded(result.status())));
  // Nothing of it on the nodes that answered.
  std::vector<std::string> elsewhere;
  for (const std::string& id : ids) {
    if (f.client.OwnerOf(KeySlot(RecordKey(id))) != victim_address) elsewhere.push_back(id);
  }
  REQUIRE_FALSE(elsewhere.empty());
  for (const MaybeValue& value : f.Read(elsewhere)) CHECK_FALSE(value.has_value());
  REQUIRE(kill(f.cluster.nodes[victim]->pid(), SIGCONT) == 0);
  REQUIRE(f.cluster.nodes[victim]->Command({"PING"})->type == REDIS_REPLY_STATUS);
  absl::SleepFor(absl::Milliseconds(300));  // Its late prepare may run now.

  // The sweep settles the aborted transaction; a new writer of the same ids
  // (which releases any intent a late prepare left) then writes them all.
  ClusterCas next(&f.client, Type(), &f.metrics);
  REQUIRE(next.ResolveStale(absl::ZeroDuration(), Later()).ok());
  for (const MaybeValue& value : f.Read(ids)) CHECK_FALSE(value.has_value());  // Still nothing of "w".
  auto after = next.CompareAndSet(Creates(ids, "n"), nullptr, Later());
  INFO(after.status().ToString());
  REQUIRE(after.ok());
  CHECK(after->outcome == CasResult::Outcome::kApplied);
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "n-" + ids[i]);
  CHECK(f.TxnKeys() == 0);
}

// Text only the named script has.
constexpr char kCommitMarker[] = "redis.call('HSET', KEYS[1], 'state', 'committed')";
constexpr char kPrepareMarker[] = "mark .. ARGV[2]";

ClusterOptions OptionsFor(Fixture& f) {
  ClusterOptions options;
  options.seeds = {HostPort{"127.0.0.1", f.cluster.nodes[0]->port()}};
  return options;
}

TEST_CASE("cluster cas: a commit whose reply is lost is settled by its writer, which answers applied") {
  Fixture f;
  LosingCluster losing(OptionsFor(f), &f.metrics, kCommitMarker);
  ClusterCas cas(&losing, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(30);
  auto result = cas.CompareAndSet(Creates(ids, "v"), nullptr, Later());
  INFO(result.status().ToString());
  REQUIRE(losing.lost == 1);
  REQUIRE(result.ok());
  CHECK(result->outcome == CasResult::Outcome::kApplied);
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "v-" + ids[i]);
  CHECK(f.TxnKeys() == 0);
}

TEST_CASE("cluster cas: a prepare whose reply is lost fails the write, which leaves nothing behind") {
  Fixture f;
  LosingCluster losing(OptionsFor(f), &f.metrics, kPrepareMarker);
  ClusterCas cas(&losing, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(30);
  auto result = cas.CompareAndSet(Creates(ids, "v"), nullptr, Later());
  REQUIRE(losing.lost == 1);
  CHECK(absl::IsUnavailable(result.status()));
  for (const MaybeValue& value : f.Read(ids)) CHECK_FALSE(value.has_value());
  CHECK(f.TxnKeys() == 0);  // Its intents (written: the prepare ran) released.
  auto next = ClusterCas(&f.client, Type(), &f.metrics).CompareAndSet(Creates(ids, "n"), nullptr, Later());
  REQUIRE(next.ok());
  CHECK(next->outcome == CasResult::Outcome::kApplied);
}

TEST_CASE("cluster cas: a retry of a request whose writer paused after its commit answers once the batch is applied") {
  Fixture f;
  PausingCas paused(&f.client, &f.metrics, ClusterCas::Step::kCommitted);
  ClusterCas retry(&f.client, Type(), &f.metrics);
  const std::vector<std::string> ids = f.Ids(30);
  const RequestEntry request{"req-p", "answer-p", absl::Minutes(5)};
  std::thread a([&] { (void)paused.CompareAndSet(Creates(ids, "a"), &request, Later()); });
  paused.reached.WaitForNotification();
  for (const MaybeValue& value : f.Read(ids)) CHECK_FALSE(value.has_value());  // Committed, not applied.
  auto again = retry.CompareAndSet(Creates(ids, "a"), &request, Later());
  REQUIRE(again.ok());
  CHECK(again->outcome == CasResult::Outcome::kRequestDone);
  CHECK(again->recorded == "answer-p");
  // The answer came only after the batch was applied everywhere.
  const std::vector<MaybeValue> values = f.Read(ids);
  for (size_t i = 0; i < ids.size(); ++i) CHECK(values[i].value_or("") == "a-" + ids[i]);
  paused.release.Notify();
  a.join();
  CHECK(f.TxnKeys() == 0);
}

// Counters on `ids`, each batch adding 1 to three random ids spanning nodes.
// Returns how many increments each id received from applied batches.
std::map<std::string, int64_t> RunCounters(Fixture& f, const std::vector<std::string>& ids, int threads,
                                           const std::function<bool()>& keep_going, std::atomic<int64_t>* errors,
                                           std::string* first_error) {
  std::mutex mu;
  std::map<std::string, int64_t> applied;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ClusterCasOptions options;
      options.stale_after = absl::Milliseconds(50);
      ClusterCas cas(&f.client, Type(), &f.metrics, options);
      std::mt19937 random(t);
      while (keep_going()) {
        std::set<std::string> pick;
        while (pick.size() < 3) pick.insert(ids[random() % ids.size()]);
        const std::vector<std::string> chosen(pick.begin(), pick.end());
        std::vector<std::string> keys;
        for (const std::string& id : chosen) keys.push_back(RecordKey(id));
        auto current = f.client.MultiGet(keys, Later());
        if (!current.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if ((*errors)++ == 0) *first_error = current.status().ToString();
          continue;
        }
        std::vector<CasEntry> entries;
        for (size_t i = 0; i < chosen.size(); ++i) {
          int64_t n = 0;
          if ((*current)[i] && !absl::SimpleAtoi(*(*current)[i], &n)) ++*errors;  // Not a counter: fails below.
          entries.push_back({chosen[i], (*current)[i], std::nullopt, absl::StrCat(n + 1)});
        }
        auto result = cas.CompareAndSet(entries, nullptr, Later());
        std::lock_guard<std::mutex> lock(mu);
        if (!result.ok()) {
          if ((*errors)++ == 0) *first_error = result.status().ToString();
        } else if (result->outcome == CasResult::Outcome::kApplied) {
          for (const std::string& id : chosen) ++applied[id];
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return applied;
}

void CheckCounters(Fixture& f, const std::vector<std::string>& ids, std::map<std::string, int64_t>& applied) {
  const std::vector<MaybeValue> values = f.Read(ids);
  int64_t total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t n = 0;
    if (values[i]) REQUIRE(absl::SimpleAtoi(*values[i], &n));
    INFO(ids[i]);
    CHECK(n == applied[ids[i]]);  // No increment lost, none applied twice.
    total += n;
  }
  CHECK(total > 0);
}

TEST_CASE("cluster cas: concurrent writers and a sweep that resolves them mid-way lose no increment") {
  Fixture f;
  const std::vector<std::string> ids = f.Ids(9, "k");
  const absl::Time until = absl::Now() + absl::Seconds(4);
  std::atomic<bool> stop{false};
  // Adversarial: a sweep resolving every transaction older than 1 ms, so
  // live writers are aborted or applied by someone else at every step.
  ClusterCas sweeper(&f.client, Type(), &f.metrics);
  int64_t swept = 0;
  std::thread sweep([&] {
    while (!stop) {
      auto n = sweeper.ResolveStale(absl::Milliseconds(1), Later());
      if (n.ok()) swept += *n;
    }
  });
  std::atomic<int64_t> errors{0};
  std::string first_error;
  std::map<std::string, int64_t> applied =
      RunCounters(f, ids, 3, [&] { return absl::Now() < until; }, &errors, &first_error);
  stop = true;
  sweep.join();
  REQUIRE(sweeper.ResolveStale(absl::ZeroDuration(), Later()).ok());
  INFO(first_error);
  CHECK(errors == 0);
  CheckCounters(f, ids, applied);
  CHECK(swept > 0);  // The sweep did interfere.
  CHECK(f.TxnKeys() == 0);
  std::printf("cluster cas: %lld commits, %lld self-aborts, %lld busy, %lld resolved by others\n",
              static_cast<long long>(f.metrics.Get(Counter::cluster_txn_commits_total)),
              static_cast<long long>(f.metrics.Get(Counter::cluster_txn_aborts_total)),
              static_cast<long long>(f.metrics.Get(Counter::cluster_txn_busy_total)),
              static_cast<long long>(f.metrics.Get(Counter::cluster_txn_resolved_total)));
}

TEST_CASE("cluster cas: writes during a live reshard all succeed and lose no increment") {
  Fixture f;
  std::vector<std::string> ids;
  // Ids on the first master's lowest slots, which the reshard moves, and
  // some elsewhere.
  for (int i = 0; ids.size() < 12; ++i) {
    const std::string id = absl::StrCat("r", i);
    const uint16_t slot = KeySlot(RecordKey(id));
    if (slot < 2000 || (i % 7 == 0 && slot >= 2000)) ids.push_back(id);
  }
  std::atomic<bool> done{false};
  int cli_status = -1;
  std::thread reshard([&] {
    const std::string log = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                            catalog::testing::UniqueName("reshard") + ".log";
    cli_status = f.cluster.Cli({"reshard", f.cluster.Addresses()[0], "--cluster-from", f.cluster.Id(0),
                                "--cluster-to", f.cluster.Id(1), "--cluster-slots", "2000", "--cluster-yes",
                                "--cluster-pipeline", "10"},
                               log);
    done = true;
  });
  std::atomic<int64_t> errors{0};
  std::string first_error;
  std::map<std::string, int64_t> applied = RunCounters(f, ids, 2, [&] { return !done; }, &errors, &first_error);
  reshard.join();
  REQUIRE(cli_status == 0);
  INFO(first_error);
  CHECK(errors == 0);
  CheckCounters(f, ids, applied);
  CHECK(f.TxnKeys() == 0);
  CHECK(f.metrics.Get(Counter::redis_cluster_moves_total) > 0);
  std::printf("cluster cas reshard: %lld commits during it; MOVED %lld, ASK %lld, TRYAGAIN %lld followed\n",
              static_cast<long long>(f.metrics.Get(Counter::cluster_txn_commits_total)),
              static_cast<long long>(f.metrics.Get(Counter::redis_cluster_moves_total)),
              static_cast<long long>(f.metrics.Get(Counter::redis_cluster_asks_total)),
              static_cast<long long>(f.metrics.Get(Counter::redis_cluster_tryagains_total)));
}

}  // namespace
}  // namespace catalog::storage

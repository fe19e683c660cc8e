// catalog-bench: a gRPC load generator for BatchGetProducts.
//
//   catalog-bench --target=H:P populate --keys=N --value-bytes=B [--prefix=p]
//   catalog-bench --target=H:P run --keys=N --batch=100 --concurrency=32
//                 --seconds=10 [--channels=1] [--cold-ids-file=F --cold-fraction=0.2]
//                 [--prefix=p]
//   catalog-bench --target=H:P mixed --keys=N --concurrency=200 --seconds=10
//                 [--channels=8] [--prefix=p]
//   catalog-bench --target=H:P invalidation-delay --other=H:P --rounds=500
//   catalog-bench write-request --batch=100 --out=FILE [--prefix=p]
//   catalog-bench serve-fixed --listen=H:P --batch=100 --value-bytes=600
//                 [--api=callback-raw|callback-raw-handoff|sync-generated]
//
// `run` keeps `concurrency` calls in flight from one thread over one
// completion queue (like redis-benchmark's single event loop), spread over
// `channels` HTTP/2 connections (frontends have many), and prints one
// line: req/s, keys/s, p50/p99/p99.9 in ms. Responses are checked for size
// once, then kept as raw bytes: the client's parsing is not what we measure.
// `mixed` keeps `concurrency` calls of a frontend-like mix in flight (70 %
// BatchGet of 100 ids, 15 % GetProduct, 15 % UpsertProducts of 10) over
// `channels` connections, and prints p50/p99 per method and every non-OK
// status code with its count.
// `invalidation-delay` measures how long after an acknowledged upsert
// through `target` the server at `other` (holding the record in its L1)
// first answers the new version: it reads `other` in a loop until it does,
// so each figure includes up to one read's round trip, printed beside it.
// `write-request` writes a gRPC-framed request body for h2load.
// `serve-fixed` is the transport ceiling: a gRPC server answering every
// BatchGetProducts with a fixed response of the same size, touching no
// storage at all; by default a callback raw method sending one static slice,
// or (--api=callback-raw-handoff) the same answer finished from another
// thread (what one hand-off per call costs: the shape of a read that waits
// for Redis on an event loop), or (--api=sync-generated) the generated sync
// service.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "catalog/admin/v1/admin.grpc.pb.h"
#include "catalog/v1/catalog.grpc.pb.h"

namespace {

using catalog::v1::BatchGetProductsRequest;
using catalog::v1::BatchGetProductsResponse;

std::map<std::string, std::string> flags;

std::string Flag(const std::string& name, const std::string& fallback) {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}
int64_t IntFlag(const std::string& name, int64_t fallback) {
  int64_t v = fallback;
  if (flags.count(name) && !absl::SimpleAtoi(flags[name], &v)) {
    std::fprintf(stderr, "catalog-bench: --%s needs an integer\n", name.c_str());
    std::exit(2);
  }
  return v;
}

// Zero-padded to 12 digits like redis-benchmark's __rand_int__, so the
// reference can MGET random keys of the same data set.
std::string Id(const std::string& prefix, int64_t i) { return absl::StrFormat("%s%012d", prefix, i); }

int Populate(catalog::v1::CatalogService::Stub& stub) {
  const int64_t keys = IntFlag("keys", 10000);
  const int64_t value_bytes = IntFlag("value-bytes", 600);
  const std::string prefix = Flag("prefix", "bench");
  for (int64_t start = 0; start < keys; start += 500) {
    catalog::v1::UpsertProductsRequest request;
    for (int64_t i = start; i < std::min(keys, start + 500); ++i) {
      catalog::v1::Product* p = request.add_products();
      p->set_id(Id(prefix, i));
      p->set_sku(absl::StrCat("SKU-", i));
      p->set_title(absl::StrCat("Benchmark product ", i));
      p->mutable_price()->set_currency_code("EUR");
      p->mutable_price()->set_amount_minor(1999);
      p->set_stock_quantity(5);
      p->add_category_ids("bench");
      p->set_version(0);
      // Pad the description so the stored record is about value_bytes.
      const int64_t overhead = static_cast<int64_t>(p->ByteSizeLong()) + 16;  // + version, update_time.
      p->set_description(std::string(std::max<int64_t>(0, value_bytes - overhead - 3), 'd'));
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    catalog::v1::UpsertProductsResponse response;
    grpc::Status status = stub.UpsertProducts(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "catalog-bench: populate failed: %s\n", status.error_message().c_str());
      return 1;
    }
    if (start == 0) std::fprintf(stderr, "record size: %zu bytes\n", response.products(0).ByteSizeLong());
  }
  return 0;
}

// The p-quantile (0..1) of sorted latencies in microseconds, in ms; 0 if none.
double PercentileMs(const std::vector<uint32_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0.0;
  return sorted_us[std::min(sorted_us.size() - 1, static_cast<size_t>(p * sorted_us.size()))] / 1000.0;
}

struct Call {
  grpc::ClientContext context;
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Time start;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  int64_t cold_ids = 0;
};

grpc::ByteBuffer Serialize(const google::protobuf::MessageLite& request) {
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A separate TCP connection per channel: a distinct channel argument keeps
// gRPC from sharing one subchannel between them.
std::shared_ptr<grpc::Channel> NewChannel(int index) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt("catalog_bench.channel_index", index);
  return grpc::CreateCustomChannel(Flag("target", "127.0.0.1:50051"), grpc::InsecureChannelCredentials(), args);
}

int Run() {
  const std::shared_ptr<grpc::Channel> channel = NewChannel(0);
  const int64_t keys = IntFlag("keys", 10000);
  const int64_t batch = IntFlag("batch", 100);
  const int64_t concurrency = IntFlag("concurrency", 32);
  const absl::Duration duration = absl::Seconds(IntFlag("seconds", 10));
  const std::string prefix = Flag("prefix", "bench");
  double cold_fraction = 0;
  if (flags.count("cold-fraction")) absl::SimpleAtod(flags["cold-fraction"], &cold_fraction);
  std::vector<std::string> cold_ids;
  if (flags.count("cold-ids-file")) {
    std::ifstream in(flags["cold-ids-file"]);
    for (std::string line; std::getline(in, line);) cold_ids.push_back(line);
  }
  const int64_t cold_per_batch = static_cast<int64_t>(cold_fraction * batch + 0.5);
  size_t next_cold = 0;

  // Pre-built requests over random hot ids; cold ones are built per call.
  std::mt19937_64 rng(42);
  std::vector<grpc::ByteBuffer> hot_requests;
  for (int r = 0; r < 256; ++r) {
    BatchGetProductsRequest request;
    std::vector<int64_t> picked;
    while (static_cast<int64_t>(picked.size()) < batch) {
      const int64_t k = static_cast<int64_t>(rng() % keys);
      if (std::find(picked.begin(), picked.end(), k) == picked.end()) picked.push_back(k);
    }
    for (int64_t k : picked) request.add_ids(Id(prefix, k));
    hot_requests.push_back(Serialize(request));
  }
  auto next_request = [&](int64_t* cold_used) {
    *cold_used = 0;
    if (cold_per_batch == 0 || next_cold + cold_per_batch > cold_ids.size()) {
      return hot_requests[rng() % hot_requests.size()];
    }
    BatchGetProductsRequest request;
    for (int64_t i = 0; i < cold_per_batch; ++i) request.add_ids(cold_ids[next_cold++]);
    for (int64_t i = 0; i < batch - cold_per_batch; ++i) request.add_ids(Id(prefix, (next_cold * 7919 + i) % keys));
    *cold_used = cold_per_batch;
    return Serialize(request);
  };

  // Check one response end to end before measuring.
  {
    grpc::ClientContext context;
    BatchGetProductsRequest request;
    for (int64_t i = 0; i < batch; ++i) request.add_ids(Id(prefix, i));
    BatchGetProductsResponse response;
    grpc::Status status = catalog::v1::CatalogService::NewStub(channel)->BatchGetProducts(&context, request, &response);
    if (!status.ok() || response.products_size() != batch) {
      std::fprintf(stderr, "catalog-bench: check call failed (%s, %d products); populate first\n",
                   status.error_message().c_str(), response.products_size());
      return 1;
    }
  }

  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int64_t c = 0; c < std::max<int64_t>(1, IntFlag("channels", 1)); ++c) {
    stubs.push_back(std::make_unique<grpc::GenericStub>(NewChannel(static_cast<int>(c))));
  }
  int64_t launched = 0;
  grpc::CompletionQueue cq;
  const std::string method = "/catalog.v1.CatalogService/BatchGetProducts";
  std::vector<uint32_t> latencies_us;
  latencies_us.reserve(1 << 20);
  int64_t errors = 0, cold_reads = 0, in_flight = 0;
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;

  auto launch = [&]() {
    auto* call = new Call;
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::ByteBuffer request = next_request(&call->cold_ids);
    call->start = absl::Now();
    call->reader = stubs[launched++ % stubs.size()]->PrepareUnaryCall(&call->context, method, request, &cq);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
    ++in_flight;
  };
  for (int64_t i = 0; i < concurrency; ++i) launch();
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && cq.Next(&tag, &ok)) {
    --in_flight;
    auto* call = static_cast<Call*>(tag);
    const absl::Time now = absl::Now();
    if (call->status.ok()) {
      latencies_us.push_back(static_cast<uint32_t>(absl::ToInt64Microseconds(now - call->start)));
      cold_reads += call->cold_ids;
    } else if (++errors <= 3) {
      std::fprintf(stderr, "catalog-bench: call failed: %d %s\n", call->status.error_code(),
                   call->status.error_message().c_str());
    }
    delete call;
    if (now < end) launch();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) { return PercentileMs(latencies_us, p); };
  const double rps = latencies_us.size() / seconds;
  std::printf("req/s=%.0f keys/s=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f calls=%zu errors=%lld cold_keys=%lld\n", rps,
              rps * batch, pct(0.5), pct(0.99), pct(0.999), latencies_us.size(), static_cast<long long>(errors),
              static_cast<long long>(cold_reads));
  return errors == 0 ? 0 : 1;
}

int Mixed() {
  const int64_t keys = IntFlag("keys", 10000);
  const int64_t concurrency = IntFlag("concurrency", 200);
  const absl::Duration duration = absl::Seconds(IntFlag("seconds", 10));
  const std::string prefix = Flag("prefix", "bench");
  struct Kind {
    std::string method;
    std::vector<grpc::ByteBuffer> requests;
    std::vector<uint32_t> latencies_us;
  };
  std::vector<Kind> kinds(3);
  kinds[0].method = "/catalog.v1.CatalogService/BatchGetProducts";
  kinds[1].method = "/catalog.v1.CatalogService/GetProduct";
  kinds[2].method = "/catalog.v1.CatalogService/UpsertProducts";
  std::mt19937_64 rng(7);
  for (int r = 0; r < 256; ++r) {
    BatchGetProductsRequest batch;
    const int64_t first = static_cast<int64_t>(rng() % keys);
    for (int64_t i = 0; i < std::min<int64_t>(100, keys); ++i) batch.add_ids(Id(prefix, (first + i * 97) % keys));
    kinds[0].requests.push_back(Serialize(batch));
    catalog::v1::GetProductRequest get;
    get.set_id(Id(prefix, static_cast<int64_t>(rng() % keys)));
    kinds[1].requests.push_back(Serialize(get));
    catalog::v1::UpsertProductsRequest upsert;
    for (int i = 0; i < 10; ++i) {
      catalog::v1::Product* p = upsert.add_products();
      p->set_id(Id(prefix, static_cast<int64_t>((r * 10 + i) % keys)));  // Distinct within a call.
      p->set_sku(absl::StrCat("SKU-", r, "-", i));
      p->set_title(absl::StrCat("Mixed load ", r));
      p->mutable_price()->set_currency_code("EUR");
      p->mutable_price()->set_amount_minor(999);
      p->set_description(std::string(500, 'm'));
      p->add_category_ids("bench");
    }
    kinds[2].requests.push_back(Serialize(upsert));
  }
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (int64_t c = 0; c < std::max<int64_t>(1, IntFlag("channels", 8)); ++c) {
    stubs.push_back(std::make_unique<grpc::GenericStub>(NewChannel(static_cast<int>(c))));
  }
  struct MixedCall : Call {
    size_t kind = 0;
  };
  grpc::CompletionQueue cq;
  std::map<int, int64_t> codes;
  int64_t launched = 0, in_flight = 0;
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  auto launch = [&]() {
    auto* call = new MixedCall;
    const uint64_t dice = rng() % 100;
    call->kind = dice < 70 ? 0 : dice < 85 ? 1 : 2;
    Kind& kind = kinds[call->kind];
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    call->start = absl::Now();
    call->reader = stubs[launched++ % stubs.size()]->PrepareUnaryCall(&call->context, kind.method,
                                                                      kind.requests[rng() % kind.requests.size()], &cq);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
    ++in_flight;
  };
  for (int64_t i = 0; i < concurrency; ++i) launch();
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && cq.Next(&tag, &ok)) {
    --in_flight;
    auto* call = static_cast<MixedCall*>(tag);
    const absl::Time now = absl::Now();
    codes[call->status.error_code()]++;
    if (call->status.ok()) {
      kinds[call->kind].latencies_us.push_back(static_cast<uint32_t>(absl::ToInt64Microseconds(now - call->start)));
    }
    delete call;
    if (now < end) launch();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::string out = absl::StrFormat("calls/s=%.0f", (launched) / seconds);
  for (Kind& kind : kinds) {
    std::sort(kind.latencies_us.begin(), kind.latencies_us.end());
    auto pct = [&](double p) { return PercentileMs(kind.latencies_us, p); };
    const std::string name = kind.method.substr(kind.method.rfind('/') + 1);
    absl::StrAppend(&out, absl::StrFormat(" %s:n=%zu,p50_ms=%.2f,p99_ms=%.2f", name, kind.latencies_us.size(), pct(0.5),
                                          pct(0.99)));
  }
  for (const auto& [code, count] : codes) absl::StrAppend(&out, " code", code, "=", count);
  std::printf("%s\n", out.c_str());
  return 0;
}

class FixedResponseService final : public catalog::v1::CatalogService::Service {
 public:
  FixedResponseService(int64_t batch, int64_t value_bytes) {
    for (int64_t i = 0; i < batch; ++i) {
      catalog::v1::Product* p = response_.add_products();
      p->set_id(Id("bench", i));
      p->set_description(std::string(std::max<int64_t>(0, value_bytes - 25), 'd'));
    }
  }
  grpc::Status BatchGetProducts(grpc::ServerContext*, const BatchGetProductsRequest*,
                                BatchGetProductsResponse* response) override {
    *response = response_;
    return grpc::Status::OK;
  }

 private:
  BatchGetProductsResponse response_;
};

// The transport ceiling (issue 7): a callback raw method that answers
// every BatchGetProducts with the same bytes from one static slice: no
// parsing, no allocation per call, no thread hand-off.
class CeilingService final
    : public catalog::v1::CatalogService::WithRawCallbackMethod_BatchGetProducts<catalog::v1::CatalogService::Service> {
 public:
  explicit CeilingService(std::string bytes) : bytes_(std::move(bytes)) {}
  grpc::ServerUnaryReactor* BatchGetProducts(grpc::CallbackServerContext* context, const grpc::ByteBuffer*,
                                             grpc::ByteBuffer* response) override {
    grpc::Slice slice(bytes_.data(), bytes_.size(), grpc::Slice::STATIC_SLICE);
    *response = grpc::ByteBuffer(&slice, 1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const std::string bytes_;
};

// The ceiling's answer, but each call is finished by a worker thread that
// the handler wakes: one thread hand-off per call and nothing else.
class HandoffService final
    : public catalog::v1::CatalogService::WithRawCallbackMethod_BatchGetProducts<catalog::v1::CatalogService::Service> {
 public:
  explicit HandoffService(std::string bytes) : bytes_(std::move(bytes)), worker_([this] { Work(); }) {}
  ~HandoffService() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_one();
    worker_.join();
  }
  grpc::ServerUnaryReactor* BatchGetProducts(grpc::CallbackServerContext* context, const grpc::ByteBuffer*,
                                             grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back({reactor, response});
    }
    wake_.notify_one();
    return reactor;
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      std::deque<std::pair<grpc::ServerUnaryReactor*, grpc::ByteBuffer*>> batch;
      batch.swap(queue_);
      lock.unlock();
      for (auto& [reactor, response] : batch) {
        grpc::Slice slice(bytes_.data(), bytes_.size(), grpc::Slice::STATIC_SLICE);
        *response = grpc::ByteBuffer(&slice, 1);
        reactor->Finish(grpc::Status::OK);
      }
      lock.lock();
    }
  }
  const std::string bytes_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<grpc::ServerUnaryReactor*, grpc::ByteBuffer*>> queue_;
  bool stop_ = false;
  std::thread worker_;
};

// --api=callback-raw (default): the ceiling above. --api=sync-generated:
// the generated sync service building the proto response per call, for the
// variant that shows what that model costs.
int ServeFixed() {
  FixedResponseService sync_service(IntFlag("batch", 100), IntFlag("value-bytes", 600));
  BatchGetProductsResponse fixed;
  for (int64_t i = 0; i < IntFlag("batch", 100); ++i) {
    catalog::v1::Product* p = fixed.add_products();
    p->set_id(Id("bench", i));
    p->set_description(std::string(std::max<int64_t>(0, IntFlag("value-bytes", 600) - 25), 'd'));
  }
  CeilingService ceiling(fixed.SerializeAsString());
  HandoffService handoff(fixed.SerializeAsString());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(Flag("listen", "127.0.0.1:50052"), grpc::InsecureServerCredentials());
  if (Flag("api", "callback-raw") == "sync-generated") {
    builder.RegisterService(&sync_service);
  } else if (Flag("api", "callback-raw") == "callback-raw-handoff") {
    builder.RegisterService(&handoff);
  } else {
    builder.RegisterService(&ceiling);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return 1;
  server->Wait();
  return 0;
}

int InvalidationDelay() {
  auto writer = catalog::v1::CatalogService::NewStub(NewChannel(0));
  auto reader = catalog::v1::CatalogService::NewStub(
      grpc::CreateChannel(Flag("other", "127.0.0.1:50052"), grpc::InsecureChannelCredentials()));
  const int64_t rounds = IntFlag("rounds", 500);
  const std::string id = Id("invalidation", 0);
  auto read_title = [&](std::string* title) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    BatchGetProductsRequest request;
    request.add_ids(id);
    BatchGetProductsResponse response;
    if (!reader->BatchGetProducts(&context, request, &response).ok()) return false;
    *title = response.products_size() == 1 ? response.products(0).title() : "";
    return true;
  };
  std::vector<double> delays_us, reads_us;
  for (int64_t round = 0; round <= rounds; ++round) {
    const std::string title = absl::StrCat("round ", round);
    catalog::v1::UpsertProductsRequest upsert;
    catalog::v1::Product* p = upsert.add_products();
    p->set_id(id);
    p->set_sku("SKU");
    p->set_title(title);
    p->mutable_price()->set_currency_code("EUR");
    p->mutable_price()->set_amount_minor(100);
    catalog::v1::UpsertProductsResponse upserted;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    if (!writer->UpsertProducts(&context, upsert, &upserted).ok()) return 1;
    const absl::Time acknowledged = absl::Now();
    std::string seen;
    int64_t reads = 0;
    absl::Time last_read_start = acknowledged;
    while (seen != title) {
      if (absl::Now() - acknowledged > absl::Seconds(10)) {
        std::fprintf(stderr, "catalog-bench: %s never showed round %lld\n", Flag("other", "").c_str(),
                     static_cast<long long>(round));
        return 1;
      }
      last_read_start = absl::Now();
      if (!read_title(&seen)) return 1;
      ++reads;
    }
    const absl::Time seen_at = absl::Now();
    // Warm: the other server now holds the new version in L1 for the next
    // round (read it a few more times).
    for (int i = 0; i < 3; ++i) read_title(&seen);
    if (round == 0) continue;  // The first round fills L1.
    delays_us.push_back(absl::ToDoubleMicroseconds(seen_at - acknowledged));
    reads_us.push_back(absl::ToDoubleMicroseconds(seen_at - last_read_start));
  }
  std::sort(delays_us.begin(), delays_us.end());
  std::sort(reads_us.begin(), reads_us.end());
  auto at = [](const std::vector<double>& v, double q) { return v[std::min(v.size() - 1, size_t(q * v.size()))]; };
  std::printf("rounds=%zu delay_p50_us=%.0f delay_p99_us=%.0f delay_max_us=%.0f read_rtt_p50_us=%.0f\n",
              delays_us.size(), at(delays_us, 0.5), at(delays_us, 0.99), delays_us.back(), at(reads_us, 0.5));
  return 0;
}

int WriteRequest() {
  BatchGetProductsRequest request;
  const std::string prefix = Flag("prefix", "bench");
  for (int64_t i = 0; i < IntFlag("batch", 100); ++i) request.add_ids(Id(prefix, i));
  const std::string body = request.SerializeAsString();
  std::string framed(5, '\0');  // gRPC frame: uncompressed flag + big-endian length.
  const uint32_t n = static_cast<uint32_t>(body.size());
  framed[1] = static_cast<char>(n >> 24);
  framed[2] = static_cast<char>(n >> 16);
  framed[3] = static_cast<char>(n >> 8);
  framed[4] = static_cast<char>(n);
  framed += body;
  std::ofstream(Flag("out", "request.bin"), std::ios::binary) << framed;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      flags[arg.substr(2, arg.find('=') - 2)] = arg.substr(arg.find('=') + 1);
    } else {
      command = arg;
    }
  }
  if (command == "write-request") return WriteRequest();
  if (command == "serve-fixed") return ServeFixed();
  if (command == "populate") return Populate(*catalog::v1::CatalogService::NewStub(NewChannel(0)));
  if (command == "run") return Run();
  if (command == "mixed") return Mixed();
  if (command == "invalidation-delay") return InvalidationDelay();
  std::fprintf(stderr, "usage: catalog-bench [--target=H:P] populate|run|mixed|invalidation-delay|write-request [--flag=value ...]\n");
  return 2;
}

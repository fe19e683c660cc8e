#include "clients/cpp/catalog_client.h"

#include <condition_variable>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace catalog::client {
namespace {

absl::Status ToStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string Seconds(absl::Duration d) { return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d)); }

}  // namespace

std::string CatalogClient::ServiceConfig(const ClientOptions& options) {
  auto retrying = [&](const char* method) {
    return absl::StrCat(R"({"name":[{"service":"catalog.v1.CatalogService","method":")", method,
                        R"("}],"retryPolicy":{"maxAttempts":)", options.max_attempts, R"(,"initialBackoff":")",
                        Seconds(options.initial_backoff), R"(","maxBackoff":")", Seconds(options.max_backoff),
                        R"(","backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]}})");
  };
  return absl::StrCat(R"({"methodConfig":[)", retrying("GetProduct"), ",", retrying("BatchGetProducts"), "]}");
}

CatalogClient::CatalogClient(ClientOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfig(options_));
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(options_.target, grpc::InsecureChannelCredentials(), args);
  stub_ = catalog::v1::CatalogService::NewStub(channel_);
}

void CatalogClient::SetDeadline(grpc::ClientContext& context) const {
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

absl::StatusOr<std::optional<catalog::v1::Product>> CatalogClient::GetProduct(const std::string& id) {
  grpc::ClientContext context;
  SetDeadline(context);
  catalog::v1::GetProductRequest request;
  request.set_id(id);
  catalog::v1::Product product;
  grpc::Status status = stub_->GetProduct(&context, request, &product);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) return ToStatus(status);
  return product;
}

absl::StatusOr<BatchResult> CatalogClient::BatchGetProducts(absl::Span<const std::string> ids) {
  // Duplicates across batches would escape the server's check: report them
  // as the server does within one batch.
  absl::flat_hash_map<absl::string_view, size_t> first;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = first.emplace(ids[i], i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("ids[", i, "]: duplicate of ids[", it->second, "] \"", ids[i], "\""));
    }
  }
  const size_t batch = static_cast<size_t>(std::max(1, options_.max_batch_size));
  const size_t batches = ids.empty() ? 1 : (ids.size() + batch - 1) / batch;

  // One context/response per batch; all share the call's deadline.
  struct Part {
    grpc::ClientContext context;
    catalog::v1::BatchGetProductsRequest request;
    catalog::v1::BatchGetProductsResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Part>> parts;
  const auto deadline = absl::ToChronoTime(absl::Now() + options_.timeout);
  for (size_t b = 0; b < batches; ++b) {
    auto part = std::make_unique<Part>();
    part->context.set_deadline(deadline);
    for (size_t i = b * batch; i < std::min(ids.size(), (b + 1) * batch); ++i) part->request.add_ids(ids[i]);
    parts.push_back(std::move(part));
  }

  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0, running = 0, finished = 0;
  std::unique_lock<std::mutex> lock(mu);
  auto launch = [&](size_t b) {
    ++running;
    stub_->async()->BatchGetProducts(&parts[b]->context, &parts[b]->request, &parts[b]->response,
                                     [&, b](grpc::Status status) {
                                       std::lock_guard<std::mutex> done(mu);
                                       parts[b]->status = std::move(status);
                                       --running;
                                       ++finished;
                                       cv.notify_all();
                                     });
  };
  while (finished < batches) {
    while (next < batches && running < static_cast<size_t>(std::max(1, options_.max_parallel_batches))) {
      launch(next++);
    }
    cv.wait(lock);
  }

  BatchResult result;
  for (size_t b = 0; b < batches; ++b) {
    Part& part = *parts[b];
    if (!part.status.ok()) {
      absl::Status status = ToStatus(part.status);
      if (batches == 1) return status;
      return absl::Status(status.code(),
                          absl::StrCat("batch ", b + 1, " of ", batches, " (ids[", b * batch, "..",
                                       std::min(ids.size(), (b + 1) * batch) - 1, "]): ", status.message()));
    }
    for (catalog::v1::Product& p : *part.response.mutable_products()) result.products.push_back(std::move(p));
    for (std::string& id : *part.response.mutable_missing_ids()) result.missing_ids.push_back(std::move(id));
  }
  return result;
}

absl::StatusOr<std::vector<catalog::v1::Product>> CatalogClient::UpsertProducts(
    absl::Span<const catalog::v1::Product> products) {
  grpc::ClientContext context;
  SetDeadline(context);
  catalog::v1::UpsertProductsRequest request;
  for (const catalog::v1::Product& p : products) *request.add_products() = p;
  catalog::v1::UpsertProductsResponse response;
  grpc::Status status = stub_->UpsertProducts(&context, request, &response);
  if (!status.ok()) return ToStatus(status);
  return std::vector<catalog::v1::Product>(response.products().begin(), response.products().end());
}

absl::StatusOr<int64_t> CatalogClient::DeleteProducts(absl::Span<const std::string> ids) {
  grpc::ClientContext context;
  SetDeadline(context);
  catalog::v1::DeleteProductsRequest request;
  for (const std::string& id : ids) request.add_ids(id);
  catalog::v1::DeleteProductsResponse response;
  grpc::Status status = stub_->DeleteProducts(&context, request, &response);
  if (!status.ok()) return ToStatus(status);
  return response.deleted_count();
}

}  // namespace catalog::client

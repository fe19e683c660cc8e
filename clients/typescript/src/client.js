// createCatalogClient: a catalog.v1 client over Connect's gRPC transport
// (HTTP/2), typed by src/client.d.ts and the generated declarations.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService } from "./gen/catalog/v1/catalog_pb.js";

export function createCatalogClient(baseUrl, options = {}) {
  const transport = createGrpcTransport({
    baseUrl,
    // Every call gets a deadline unless the caller passes timeoutMs.
    defaultTimeoutMs: options.defaultTimeoutMs ?? 2000,
  });
  return createClient(CatalogService, transport);
}

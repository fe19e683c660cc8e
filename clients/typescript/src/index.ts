// createCatalogClient: catalog.v1 / catalog.v2 clients over Connect's gRPC
// transport (HTTP/2), fully typed by the generated protobuf-es code.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService as CatalogServiceV1 } from "./gen/catalog/v1/catalog_pb.js";
import { CatalogService as CatalogServiceV2 } from "./gen/catalog/v2/catalog_pb.js";

export * as v1 from "./gen/catalog/v1/catalog_pb.js";
export * as v2 from "./gen/catalog/v2/catalog_pb.js";

export interface CatalogClientOptions {
  /** Deadline of a call that names none, in milliseconds. Default 2000. */
  defaultTimeoutMs?: number;
}

function transport(baseUrl: string, options: CatalogClientOptions) {
  // Every call gets a deadline unless the caller passes timeoutMs.
  return createGrpcTransport({ baseUrl, defaultTimeoutMs: options.defaultTimeoutMs ?? 2000 });
}

/** A catalog.v1 client, e.g. createCatalogClient("http://127.0.0.1:50051"). */
export function createCatalogClient(
  baseUrl: string,
  options: CatalogClientOptions = {},
): Client<typeof CatalogServiceV1> {
  return createClient(CatalogServiceV1, transport(baseUrl, options));
}

/** A catalog.v2 client (read masks, per-id results, ListProducts, request ids). */
export function createCatalogClientV2(
  baseUrl: string,
  options: CatalogClientOptions = {},
): Client<typeof CatalogServiceV2> {
  return createClient(CatalogServiceV2, transport(baseUrl, options));
}

// createCatalogClient: catalog.v1 / catalog.v2 clients, fully typed by the
// generated protobuf-es code, over either of the server's two listeners:
// - protocol "grpc" (the default): gRPC over HTTP/2, on listen_address;
// - protocol "connect": the Connect protocol (unary POSTs with a binary or
//   JSON body, over HTTP/1.1 or HTTP/2), on http_listen_address.
// The clients are the same either way; so are the errors (ConnectError with
// the server's code and message), deadlines (timeoutMs) and request ids
// (x-request-id: a request header, returned as a trailer).
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { CatalogService as CatalogServiceV1 } from "./gen/catalog/v1/catalog_pb.js";
import { CatalogService as CatalogServiceV2 } from "./gen/catalog/v2/catalog_pb.js";

export * as v1 from "./gen/catalog/v1/catalog_pb.js";
export * as v2 from "./gen/catalog/v2/catalog_pb.js";

export interface CatalogClientOptions {
  /** Deadline of a call that names none, in milliseconds. Default 2000. */
  defaultTimeoutMs?: number;
  /**
   * "grpc" (default): gRPC over HTTP/2, for the server's listen_address
   * (e.g. http://127.0.0.1:50051). "connect": the Connect protocol, for its
   * http_listen_address (e.g. http://127.0.0.1:8080).
   */
  protocol?: "grpc" | "connect";
  /**
   * Connect only: the body encoding, "binary" (application/proto, the
   * default) or "json" (application/json, proto3 JSON).
   */
  format?: "binary" | "json";
  /**
   * Connect only: "1.1" (the default) or "2" (HTTP/2; over http:// that is
   * h2c with prior knowledge, one multiplexed connection).
   */
  httpVersion?: "1.1" | "2";
  /** Run around every call, e.g. to add headers; see @connectrpc/connect. */
  interceptors?: Interceptor[];
}

function transport(baseUrl: string, options: CatalogClientOptions): Transport {
  const protocol = options.protocol ?? "grpc";
  // Every call gets a deadline unless the caller passes timeoutMs.
  const common = {
    baseUrl,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 2000,
    interceptors: options.interceptors ?? [],
  };
  if (protocol === "grpc") {
    if (options.format !== undefined || options.httpVersion !== undefined) {
      throw new Error('catalog client: format and httpVersion apply to protocol "connect" only');
    }
    return createGrpcTransport(common);
  }
  if (protocol !== "connect") {
    throw new Error(`catalog client: unknown protocol ${JSON.stringify(protocol)} (use "grpc" or "connect")`);
  }
  const format = options.format ?? "binary";
  if (format !== "binary" && format !== "json") {
    throw new Error(`catalog client: unknown format ${JSON.stringify(format)} (use "binary" or "json")`);
  }
  const httpVersion = options.httpVersion ?? "1.1";
  if (httpVersion !== "1.1" && httpVersion !== "2") {
    throw new Error(`catalog client: unknown httpVersion ${JSON.stringify(httpVersion)} (use "1.1" or "2")`);
  }
  return createConnectTransport({ ...common, httpVersion, useBinaryFormat: format === "binary" });
}

/**
 * A catalog.v1 client, e.g. createCatalogClient("http://127.0.0.1:50051"), or
 * over Connect: createCatalogClient("http://127.0.0.1:8080", { protocol: "connect" }).
 */
export function createCatalogClient(
  baseUrl: string,
  options: CatalogClientOptions = {},
): Client<typeof CatalogServiceV1> {
  return createClient(CatalogServiceV1, transport(baseUrl, options));
}

/** A catalog.v2 client (read masks, per-id results, ListProducts, request ids, offers). */
export function createCatalogClientV2(
  baseUrl: string,
  options: CatalogClientOptions = {},
): Client<typeof CatalogServiceV2> {
  return createClient(CatalogServiceV2, transport(baseUrl, options));
}

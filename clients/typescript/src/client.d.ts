import type { Client } from "@connectrpc/connect";
import type { CatalogService } from "./gen/catalog/v1/catalog_pb.js";

export interface CatalogClientOptions {
  /** Deadline of a call that names none, in milliseconds. Default 2000. */
  defaultTimeoutMs?: number;
}

/** A catalog.v1.CatalogService client, e.g. createCatalogClient("http://127.0.0.1:50051"). */
export declare function createCatalogClient(baseUrl: string, options?: CatalogClientOptions): Client<typeof CatalogService>;

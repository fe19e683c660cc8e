// The TypeScript client against a live server: tests/with_server.sh sets
// CATALOG_TEST_TARGET (gRPC) and CATALOG_TEST_CONNECT_TARGET (Connect). The
// same live checks run over gRPC and over Connect in all four combinations
// of binary/JSON and HTTP/1.1/HTTP/2, each with ids of its own. Compiled by
// tsc (strict) before it runs, so the generated types are checked too.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import {
  createCatalogClient,
  createCatalogClientV2,
  v1,
  v2,
  type CatalogClientOptions,
} from "../src/index.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite through tests/with_server.sh`);
  return value;
}

interface Variant {
  name: string;
  /** Prefix of every id, request id and category the variant writes. */
  prefix: string;
  baseUrl: string;
  options: CatalogClientOptions;
}

const grpcUrl = `http://${required("CATALOG_TEST_TARGET")}`;
const connectUrl = `http://${required("CATALOG_TEST_CONNECT_TARGET")}`;
const variants: Variant[] = [
  { name: "gRPC", prefix: "ts-g-", baseUrl: grpcUrl, options: {} },
  {
    name: "Connect, binary, HTTP/1.1",
    prefix: "ts-cb1-",
    baseUrl: connectUrl,
    options: { protocol: "connect", format: "binary", httpVersion: "1.1" },
  },
  {
    name: "Connect, JSON, HTTP/1.1",
    prefix: "ts-cj1-",
    baseUrl: connectUrl,
    options: { protocol: "connect", format: "json", httpVersion: "1.1" },
  },
  {
    name: "Connect, binary, HTTP/2",
    prefix: "ts-cb2-",
    baseUrl: connectUrl,
    options: { protocol: "connect", format: "binary", httpVersion: "2" },
  },
  {
    name: "Connect, JSON, HTTP/2",
    prefix: "ts-cj2-",
    baseUrl: connectUrl,
    options: { protocol: "connect", format: "json", httpVersion: "2" },
  },
];

function isCode(code: Code, rawMessage?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof ConnectError, `not a ConnectError: ${String(e)}`);
    assert.equal(e.code, code, `code ${Code[e.code]} (${e.rawMessage}), expected ${Code[code]}`);
    if (rawMessage !== undefined) assert.equal(e.rawMessage, rawMessage);
    return true;
  };
}

// The Redis port of the server under test: CATALOG_TEST_REDIS_PORT, else the
// --redis_port of the catalog-server process listening on CATALOG_TEST_TARGET
// (tests/with_server.sh starts both). undefined when neither is found.
function redisPort(): number | undefined {
  if (process.env.CATALOG_TEST_REDIS_PORT) return Number(process.env.CATALOG_TEST_REDIS_PORT);
  const listen = `--listen_address=${process.env.CATALOG_TEST_TARGET}`;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!args.includes(listen)) continue;
    const flag = args.find((arg) => arg.startsWith("--redis_port="));
    if (flag) return Number(flag.slice("--redis_port=".length));
  }
  return undefined;
}

function redisCli(port: number, ...command: string[]): string {
  return execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...command], { encoding: "utf8" });
}

function liveChecks({ prefix: p, baseUrl, options }: Variant) {
  const client = createCatalogClient(baseUrl, options);
  const clientV2 = createCatalogClientV2(baseUrl, options);
  const category = `${p}shoes`;

  function product(id: string, title = "Title", categoryId = category): v1.Product {
    return create(v1.ProductSchema, {
      id,
      sku: `SKU-${id}`,
      title,
      price: { currencyCode: "EUR", amountMinor: 1999n },
      stockQuantity: 4n,
      attributes: { color: "blue", "size (EU)": "42" },
      categoryIds: [categoryId],
    });
  }

  function productV2(id: string, title = "Title"): v2.Product {
    return create(v2.ProductSchema, {
      id,
      sku: `SKU-${id}`,
      title,
      price: { currencyCode: "EUR", amountMinor: 2999n },
      stockQuantity: 2n,
      categoryIds: [category],
    });
  }

  function offer(productId: string, market: string, amountMinor: bigint): v2.Offer {
    return create(v2.OfferSchema, {
      productId,
      market,
      price: { currencyCode: "EUR", amountMinor },
      stockQuantity: 7n,
      availability: v2.Availability.IN_STOCK,
    });
  }

  test("v1 upsert, get, batch get in request order, delete", async () => {
    const [a, b, none] = [`${p}a`, `${p}b`, `${p}none`];
    const stored = await client.upsertProducts({ products: [product(a, "A – grün 👟"), product(b, "B")] });
    assert.deepEqual(stored.products.map((x) => x.version), [1n, 1n]);
    assert.ok((stored.products[0].updateTime?.seconds ?? 0n) > 0n, "update_time is set");
    const got = await client.getProduct({ id: a });
    assert.equal(got.title, "A – grün 👟");
    assert.equal(got.sku, `SKU-${a}`);
    assert.deepEqual(got.attributes, { color: "blue", "size (EU)": "42" });
    assert.equal(got.price?.currencyCode, "EUR");
    assert.equal(got.price?.amountMinor, 1999n);
    assert.equal(got.stockQuantity, 4n);
    assert.deepEqual(got.categoryIds, [category]);
    assert.equal(got.version, 1n);
    assert.deepEqual(got.updateTime, stored.products[0].updateTime);
    const batch = await client.batchGetProducts({ ids: [b, none, a] });
    assert.deepEqual(batch.products.map((x) => x.id), [b, a]);
    assert.deepEqual(batch.missingIds, [none]);
    const deleted = await client.deleteProducts({ ids: [a, none] });
    assert.equal(deleted.deletedCount, 1n);
    await assert.rejects(client.getProduct({ id: a }), isCode(Code.NotFound, `product "${a}" not found`));
  });

  test("invalid argument names the field and index", async () => {
    await assert.rejects(
      client.batchGetProducts({ ids: ["ok", "not ok"] }),
      isCode(Code.InvalidArgument, 'ids[1]: "not ok" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)'),
    );
    const bad = product(`${p}bad`);
    bad.price = create(v1.PriceSchema, { currencyCode: "eur", amountMinor: 1n });
    await assert.rejects(
      client.upsertProducts({ products: [product(`${p}ok`), bad] }),
      isCode(Code.InvalidArgument, 'products[1].price.currency_code: "eur" is not a 3-letter upper-case ISO 4217 code'),
    );
    // All or nothing: the valid product was not written either.
    await assert.rejects(client.getProduct({ id: `${p}ok` }), isCode(Code.NotFound));
  });

  test("a stale version is aborted and writes nothing", async () => {
    const id = `${p}v`;
    await client.upsertProducts({ products: [product(id)] });
    const stale = product(id, "stale");
    stale.version = 9n;
    await assert.rejects(client.upsertProducts({ products: [stale] }), isCode(Code.Aborted));
    assert.equal((await client.getProduct({ id })).title, "Title");
  });

  test("v2 per-id results with a read mask, and ListProducts page by page", async () => {
    const [l1, l2, nope, listed] = [`${p}l1`, `${p}l2`, `${p}nope`, `${p}listed`];
    await client.upsertProducts({ products: [product(l2, "Title", listed), product(l1, "Title", listed)] });
    const batch = await clientV2.batchGetProducts({
      ids: [l1, nope],
      readMask: { paths: ["id", "title", "category_ids"] },
    });
    assert.deepEqual(batch.results.map((r) => [r.id, r.result.case]), [[l1, "product"], [nope, "notFound"]]);
    const found = batch.results[0].result;
    assert.ok(found.case === "product");
    assert.equal(found.value.title, "Title");
    assert.deepEqual(found.value.categoryIds, [listed]);
    assert.equal(found.value.description, "");
    assert.equal(found.value.price, undefined);
    const ids: string[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 10; pages++) {
      const page = await clientV2.listProducts({
        categoryId: listed,
        pageSize: 1,
        pageToken,
        readMask: { paths: ["id"] },
      });
      assert.ok(page.products.length <= 1);
      ids.push(...page.products.map((x) => x.id));
      pageToken = page.nextPageToken;
      if (pageToken === "") break;
    }
    assert.deepEqual(ids, [l1, l2]);
  });

  test("v2 GetProduct with a read mask, NotFound, and DeleteProducts", async () => {
    const [id, gone] = [`${p}v2-get`, `${p}v2-gone`];
    await clientV2.upsertProducts({ products: [productV2(id, "Zwei")] });
    const full = await clientV2.getProduct({ id });
    assert.equal(full.title, "Zwei");
    assert.equal(full.price?.amountMinor, 2999n);
    const masked = await clientV2.getProduct({
      id,
      readMask: { paths: ["id", "price", "stock_quantity"] },
      consistency: v2.ReadConsistency.REPLICA_OK,
    });
    assert.equal(masked.id, id);
    assert.equal(masked.title, "");
    assert.equal(masked.price?.currencyCode, "EUR");
    assert.equal(masked.stockQuantity, 2n);
    await assert.rejects(clientV2.getProduct({ id: gone }), isCode(Code.NotFound, `product "${gone}" not found`));
    assert.equal((await clientV2.deleteProducts({ ids: [id, gone] })).deletedCount, 1n);
    await assert.rejects(clientV2.getProduct({ id }), isCode(Code.NotFound));
  });

  test("v2 UpsertProducts with a request_id is applied once", async () => {
    const id = `${p}once`;
    const requestId = `${p}req-once`;
    const first = await clientV2.upsertProducts({ products: [productV2(id, "first")], requestId });
    const retry = await clientV2.upsertProducts({ products: [productV2(id, "first")], requestId });
    assert.equal(first.products[0].version, 1n);
    assert.deepEqual(retry.products, first.products);
    assert.equal((await clientV2.getProduct({ id })).version, 1n);
    await assert.rejects(
      clientV2.upsertProducts({ products: [productV2(id, "other")], requestId }),
      isCode(Code.InvalidArgument),
    );
    assert.equal((await clientV2.getProduct({ id })).title, "first");
  });

  test("v2 offers: upsert, batch get, product views, delete", async () => {
    const [id, none] = [`${p}offered`, `${p}unoffered`];
    await clientV2.upsertProducts({ products: [productV2(id)] });
    const stored = await clientV2.upsertOffers({ offers: [offer(id, "de", 2499n)], requestId: `${p}req-offer` });
    assert.equal(stored.offers[0].version, 1n);
    assert.equal(stored.offers[0].availability, v2.Availability.IN_STOCK);
    const offers = await clientV2.batchGetOffers({
      keys: [
        { productId: id, market: "de" },
        { productId: id, market: "fr-FR" },
      ],
    });
    assert.deepEqual(
      offers.results.map((r) => [r.key?.market, r.result.case]),
      [["de", "offer"], ["fr-FR", "notFound"]],
    );
    const de = offers.results[0].result;
    assert.ok(de.case === "offer");
    assert.equal(de.value.price?.amountMinor, 2499n);
    assert.equal(de.value.stockQuantity, 7n);
    assert.equal(de.value.availability, v2.Availability.IN_STOCK);

    const views = await clientV2.batchGetProductViews({ productIds: [id, none], market: "de" });
    assert.deepEqual(views.results.map((r) => [r.productId, r.result.case]), [[id, "view"], [none, "notFound"]]);
    const view = views.results[0].result;
    assert.ok(view.case === "view");
    assert.equal(view.value.product?.id, id);
    assert.equal(view.value.offer?.price?.amountMinor, 2499n);

    const deleted = await clientV2.deleteOffers({
      keys: [
        { productId: id, market: "de" },
        { productId: id, market: "fr-FR" },
      ],
    });
    assert.equal(deleted.deletedCount, 1n);
    const after = await clientV2.batchGetProductViews({ productIds: [id], market: "de" });
    const unoffered = after.results[0].result;
    assert.ok(unoffered.case === "view");
    assert.equal(unoffered.value.offer, undefined);
    await assert.rejects(
      clientV2.batchGetOffers({ keys: [{ productId: id, market: "not a market" }] }),
      isCode(Code.InvalidArgument),
    );
  });

  test("request ids: x-request-id comes back as a trailer, on errors too; else one is made up", async () => {
    let trailer = new Headers();
    await client.batchGetProducts(
      { ids: [`${p}rid`] },
      { headers: { "x-request-id": `${p}page-42` }, onTrailer: (t) => (trailer = t) },
    );
    assert.equal(trailer.get("x-request-id"), `${p}page-42`);
    await clientV2.batchGetProducts({ ids: [`${p}rid`] }, { onTrailer: (t) => (trailer = t) });
    assert.match(trailer.get("x-request-id") ?? "", /^[0-9a-f]{32}$/);
    await assert.rejects(client.getProduct({ id: `${p}rid` }, { headers: { "x-request-id": `${p}page-43` } }), (e) => {
      assert.ok(e instanceof ConnectError);
      assert.equal(e.code, Code.NotFound);
      assert.equal(e.metadata.get("x-request-id"), `${p}page-43`);
      return true;
    });
  });

  test("deadlines: timeoutMs ends the call, and the server ends it at the deadline it was sent", async (t) => {
    const port = redisPort();
    if (port === undefined) {
      t.skip("no Redis port: set CATALOG_TEST_REDIS_PORT");
      return;
    }
    // With Redis's writes paused for 800 ms (reads go on) every upsert
    // waits; deadlines of 200 ms must end both calls well before that. The
    // second call sets no client timer (timeoutMs 0), only the protocol's
    // timeout header, so its DEADLINE_EXCEEDED can only come from the server.
    const timeoutHeader: Record<string, string> =
      options.protocol === "connect" ? { "connect-timeout-ms": "200" } : { "grpc-timeout": "200m" };
    redisCli(port, "CLIENT", "PAUSE", "800", "WRITE");
    try {
      const started = Date.now();
      await Promise.all([
        assert.rejects(
          client.upsertProducts({ products: [product(`${p}slow-1`)] }, { timeoutMs: 200 }),
          isCode(Code.DeadlineExceeded),
        ),
        assert.rejects(
          client.upsertProducts({ products: [product(`${p}slow-2`)] }, { timeoutMs: 0, headers: timeoutHeader }),
          isCode(Code.DeadlineExceeded),
        ),
      ]);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 700, `the calls ended after ${elapsed} ms, not at their 200 ms deadline`);
    } finally {
      redisCli(port, "CLIENT", "UNPAUSE");
    }
    // And a deadline that leaves time succeeds.
    await client.batchGetProducts({ ids: [`${p}slow-1`] }, { timeoutMs: 1500 });
  });
}

for (const variant of variants) describe(variant.name, () => liveChecks(variant));

test("options: format and httpVersion are for the Connect protocol only", () => {
  assert.throws(() => createCatalogClient(grpcUrl, { format: "json" }), /protocol "connect" only/);
  assert.throws(
    () => createCatalogClientV2(grpcUrl, { protocol: "grpc", httpVersion: "2" }),
    /protocol "connect" only/,
  );
});

// The TypeScript client against a live server (tests/with_server.sh sets
// CATALOG_TEST_TARGET). Compiled by tsc (strict) before it runs, so the
// generated types are checked too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { createCatalogClient, createCatalogClientV2, v1 } from "../src/index.js";

const baseUrl = `http://${process.env.CATALOG_TEST_TARGET}`;
const client = createCatalogClient(baseUrl);
const clientV2 = createCatalogClientV2(baseUrl);

function product(id: string, title = "Title"): v1.Product {
  return create(v1.ProductSchema, {
    id,
    sku: `SKU-${id}`,
    title,
    price: { currencyCode: "EUR", amountMinor: 1999n },
    stockQuantity: 4n,
    attributes: { color: "blue" },
    categoryIds: ["shoes"],
  });
}

function isCode(code: Code) {
  return (e: unknown) => e instanceof ConnectError && e.code === code;
}

test("upsert, get, batch get in request order, delete", async () => {
  const stored = await client.upsertProducts({ products: [product("ts-a", "A"), product("ts-b", "B")] });
  assert.deepEqual(stored.products.map((p) => p.version), [1n, 1n]);
  const got = await client.getProduct({ id: "ts-a" });
  assert.equal(got.title, "A");
  assert.equal(got.attributes["color"], "blue");
  assert.equal(got.price?.amountMinor, 1999n);
  const batch = await client.batchGetProducts({ ids: ["ts-b", "ts-none", "ts-a"] });
  assert.deepEqual(batch.products.map((p) => p.id), ["ts-b", "ts-a"]);
  assert.deepEqual(batch.missingIds, ["ts-none"]);
  const deleted = await client.deleteProducts({ ids: ["ts-a", "ts-none"] });
  assert.equal(deleted.deletedCount, 1n);
  await assert.rejects(client.getProduct({ id: "ts-a" }), isCode(Code.NotFound));
});

test("invalid argument names the field and index", async () => {
  await assert.rejects(client.batchGetProducts({ ids: ["ok", "not ok"] }), (e: unknown) => {
    assert.ok(e instanceof ConnectError);
    assert.equal(e.code, Code.InvalidArgument);
    assert.equal(e.rawMessage, 'ids[1]: "not ok" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)');
    return true;
  });
});

test("a stale version is aborted and writes nothing", async () => {
  await client.upsertProducts({ products: [product("ts-v")] });
  const stale = product("ts-v", "stale");
  stale.version = 9n;
  await assert.rejects(client.upsertProducts({ products: [stale] }), isCode(Code.Aborted));
  assert.equal((await client.getProduct({ id: "ts-v" })).title, "Title");
});

test("v2: per-id results with a read mask, and ListProducts", async () => {
  await client.upsertProducts({ products: [product("ts-l1"), product("ts-l2")] });
  const batch = await clientV2.batchGetProducts({ ids: ["ts-l1", "ts-nope"], readMask: { paths: ["id", "title"] } });
  assert.equal(batch.results[0].result.case, "product");
  assert.equal(batch.results[1].result.case, "notFound");
  if (batch.results[0].result.case === "product") {
    assert.equal(batch.results[0].result.value.title, "Title");
    assert.equal(batch.results[0].result.value.description, "");
  }
  const page = await clientV2.listProducts({ categoryId: "shoes", pageSize: 100 });
  assert.ok(page.products.some((p) => p.id === "ts-l2"));
});

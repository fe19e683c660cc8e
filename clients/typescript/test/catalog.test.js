// catalog.v1 through protobuf-es + Connect (gRPC protocol), against a live
// server. Run through tools/test (tests/with_server.sh sets the target).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { createCatalogClient } from "../src/client.js";

const client = createCatalogClient(`http://${process.env.CATALOG_TEST_TARGET}`);

function product(id, title = "Title") {
  return {
    id,
    sku: `SKU-${id}`,
    title,
    price: { currencyCode: "EUR", amountMinor: 1999n },
    stockQuantity: 4n,
    attributes: { color: "blue" },
    categoryIds: ["shoes"],
  };
}

test("upsert, get, batch get in request order, delete", async () => {
  const stored = await client.upsertProducts({ products: [product("ts-a", "A"), product("ts-b", "B")] });
  assert.deepEqual(stored.products.map((p) => p.version), [1n, 1n]);
  const got = await client.getProduct({ id: "ts-a" });
  assert.equal(got.title, "A");
  assert.equal(got.attributes.color, "blue");
  assert.equal(got.price.amountMinor, 1999n);
  const batch = await client.batchGetProducts({ ids: ["ts-b", "ts-none", "ts-a"] });
  assert.deepEqual(batch.products.map((p) => p.id), ["ts-b", "ts-a"]);
  assert.deepEqual(batch.missingIds, ["ts-none"]);
  const deleted = await client.deleteProducts({ ids: ["ts-a", "ts-none"] });
  assert.equal(deleted.deletedCount, 1n);
  await assert.rejects(client.getProduct({ id: "ts-a" }), (e) => e instanceof ConnectError && e.code === Code.NotFound);
});

test("invalid argument names the field and index", async () => {
  await assert.rejects(client.batchGetProducts({ ids: ["ok", "not ok"] }), (e) => {
    assert.equal(e.code, Code.InvalidArgument);
    assert.equal(e.rawMessage, 'ids[1]: "not ok" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)');
    return true;
  });
});

test("a stale version is aborted and writes nothing", async () => {
  await client.upsertProducts({ products: [product("ts-v")] });
  await assert.rejects(
    client.upsertProducts({ products: [{ ...product("ts-v", "stale"), version: 9n }] }),
    (e) => e.code === Code.Aborted,
  );
  assert.equal((await client.getProduct({ id: "ts-v" })).title, "Title");
});

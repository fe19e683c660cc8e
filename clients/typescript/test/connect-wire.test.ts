// The Connect protocol on the wire, as curl, PHP or a browser's fetch sees
// it (the client hides all of this): content types, HTTP statuses and the
// JSON error body, trailer-x-request-id, proto3 JSON both ways. Plain fetch
// over HTTP/1.1 against CATALOG_TEST_CONNECT_TARGET (tests/with_server.sh),
// without Connect-Protocol-Version, as a hand-written caller would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { v1 } from "../src/index.js";

const target = process.env.CATALOG_TEST_CONNECT_TARGET;
if (!target) throw new Error("CATALOG_TEST_CONNECT_TARGET is not set: run the suite through tests/with_server.sh");
const base = `http://${target}`;

function post(procedure: string, contentType: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return fetch(`${base}/${procedure}`, { method: "POST", headers: { "content-type": contentType, ...headers }, body });
}

function postJson(procedure: string, message: unknown, headers: Record<string, string> = {}) {
  return post(procedure, "application/json", JSON.stringify(message), headers);
}

// Asserts a Connect error response: the status, JSON content type, and body.
async function assertError(response: Response, status: number, code: string, message?: string | RegExp) {
  const text = await response.text();
  assert.equal(response.status, status, `HTTP ${response.status}, expected ${status}: ${text}`);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json\b/, "an error's content type is JSON");
  const body = JSON.parse(text) as { code?: unknown; message?: unknown };
  assert.equal(body.code, code, text);
  if (typeof message === "string") assert.equal(body.message, message);
  else if (message) assert.match(String(body.message), message);
}

const V1 = "catalog.v1.CatalogService";
const V2 = "catalog.v2.CatalogService";

test("JSON: 200 application/json in the proto3 JSON mapping; snake_case and camelCase both accepted", async () => {
  const upsert = await postJson(`${V1}/UpsertProducts`, {
    products: [
      // snake_case names and an int64 as a number, as a hand-written caller sends them
      {
        id: "wire-1",
        sku: "W1",
        title: "Wire – ü",
        price: { currency_code: "EUR", amount_minor: 5 },
        category_ids: ["wire"],
      },
      // camelCase names and an int64 as a string, as protobuf's own JSON has them
      {
        id: "wire-2",
        sku: "W2",
        title: "Wire 2",
        price: { currencyCode: "EUR", amountMinor: "6" },
        stockQuantity: "3",
      },
    ],
  });
  assert.equal(upsert.status, 200, await upsert.clone().text());
  assert.match(upsert.headers.get("content-type") ?? "", /^application\/json\b/);
  const stored = (await upsert.json()) as { products: Record<string, unknown>[] };
  assert.equal(stored.products[0].id, "wire-1");
  assert.equal(stored.products[0].version, "1", "int64 is a JSON string");
  assert.deepEqual(stored.products[0].price, { currencyCode: "EUR", amountMinor: "5" });
  assert.deepEqual(stored.products[0].categoryIds, ["wire"]);
  const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
  assert.match(String(stored.products[0].updateTime), rfc3339, "a Timestamp is RFC 3339");
  assert.equal(stored.products[1].stockQuantity, "3");

  const batch = await postJson(`${V1}/BatchGetProducts`, { ids: ["wire-1", "wire-none"] });
  assert.equal(batch.status, 200);
  const got = (await batch.json()) as { products: { id: string; title: string }[]; missingIds: string[] };
  assert.deepEqual(got.products.map((p) => [p.id, p.title]), [["wire-1", "Wire – ü"]]);
  assert.deepEqual(got.missingIds, ["wire-none"]);

  const results = await postJson(`${V2}/BatchGetProducts`, {
    ids: ["wire-1", "wire-none"],
    readMask: "id,categoryIds",
  });
  assert.equal(results.status, 200);
  type Result = { id: string; product?: Record<string, unknown>; notFound?: unknown };
  const { results: [found, missing] } = (await results.json()) as { results: Result[] };
  assert.equal(found.id, "wire-1");
  assert.equal(found.product?.id, "wire-1");
  assert.deepEqual(found.product?.categoryIds, ["wire"]);
  assert.ok([undefined, ""].includes(found.product?.title as string | undefined), "the read mask left the title out");
  assert.equal(missing.id, "wire-none");
  assert.deepEqual(missing.notFound, {}, "an empty message is {}");

  const offers = await postJson(`${V2}/UpsertOffers`, {
    offers: [
      {
        productId: "wire-1",
        market: "de",
        price: { currencyCode: "EUR", amountMinor: "7" },
        availability: "AVAILABILITY_PREORDER",
      },
    ],
  });
  assert.equal(offers.status, 200, await offers.clone().text());
  const offer = ((await offers.json()) as { offers: Record<string, unknown>[] }).offers[0];
  assert.equal(offer.availability, "AVAILABILITY_PREORDER", "enums are names");
  assert.equal(offer.version, "1");
});

test("binary: application/proto in, application/proto out", async () => {
  const request = create(v1.BatchGetProductsRequestSchema, { ids: ["wire-1", "wire-none"] });
  const bytes = toBinary(v1.BatchGetProductsRequestSchema, request);
  const response = await post(`${V1}/BatchGetProducts`, "application/proto", bytes);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/proto");
  const body = fromBinary(v1.BatchGetProductsResponseSchema, new Uint8Array(await response.arrayBuffer()));
  assert.deepEqual(body.products.map((p) => p.id), ["wire-1"]);
  assert.deepEqual(body.missingIds, ["wire-none"]);
});

test("errors: the Connect code and its HTTP status, a JSON body with the server's message", async () => {
  const missing = 'product "wire-none" not found';
  await assertError(await postJson(`${V1}/GetProduct`, { id: "wire-none" }), 404, "not_found", missing);
  const binary = toBinary(v1.GetProductRequestSchema, create(v1.GetProductRequestSchema, { id: "wire-none" }));
  await assertError(await post(`${V1}/GetProduct`, "application/proto", binary), 404, "not_found", missing);
  await assertError(
    await postJson(`${V1}/BatchGetProducts`, { ids: ["ok", "not ok"] }),
    400,
    "invalid_argument",
    'ids[1]: "not ok" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)',
  );
  const stale = { id: "wire-1", sku: "W1", title: "stale", price: { currencyCode: "EUR", amountMinor: 1 }, version: 9 };
  await assertError(await postJson(`${V1}/UpsertProducts`, { products: [stale] }), 409, "aborted");
  await assertError(await postJson(`${V2}/GetProduct`, { id: "wire-none" }), 404, "not_found", missing);
});

test("errors: a body that does not parse is invalid_argument", async () => {
  await assertError(await post(`${V1}/GetProduct`, "application/json", "{not json"), 400, "invalid_argument");
  const truncated = new Uint8Array([0x0a, 0x05, 0x61]); // field 1, 5 bytes long, then only 1
  await assertError(await post(`${V1}/GetProduct`, "application/proto", truncated), 400, "invalid_argument");
});

test("an unsupported content type is 415; an unknown procedure is not served", async () => {
  const text = await post(`${V1}/GetProduct`, "text/plain", '{"id":"wire-1"}');
  assert.equal(text.status, 415, await text.text());
  const unknown = await postJson(`${V1}/NoSuchMethod`, {});
  assert.ok([404, 501].includes(unknown.status), `HTTP ${unknown.status} for an unknown procedure`);
  const unknownService = await postJson("catalog.v9.CatalogService/GetProduct", { id: "wire-1" });
  assert.ok([404, 501].includes(unknownService.status), `HTTP ${unknownService.status} for an unknown service`);
});

test("request ids: x-request-id comes back in trailer-x-request-id, on errors too; else one is made up", async () => {
  const ok = await postJson(`${V1}/BatchGetProducts`, { ids: ["wire-1"] }, { "x-request-id": "wire-page-1" });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("trailer-x-request-id"), "wire-page-1");
  const made = await postJson(`${V2}/BatchGetProducts`, { ids: ["wire-1"] });
  assert.match(made.headers.get("trailer-x-request-id") ?? "", /^[0-9a-f]{32}$/);
  const failed = await postJson(`${V1}/GetProduct`, { id: "wire-none" }, { "x-request-id": "wire-page-2" });
  assert.equal(failed.status, 404);
  assert.equal(failed.headers.get("trailer-x-request-id"), "wire-page-2");
});

test("Connect-Timeout-Ms that leaves time is accepted", async () => {
  const response = await postJson(`${V1}/BatchGetProducts`, { ids: ["wire-1"] }, { "connect-timeout-ms": "3000" });
  assert.equal(response.status, 200, await response.clone().text());
});

test("a gzip request body is decoded, or refused as unimplemented", async () => {
  const body = gzipSync(JSON.stringify({ ids: ["wire-1"] }));
  const response = await post(`${V1}/BatchGetProducts`, "application/json", new Uint8Array(body), {
    "content-encoding": "gzip",
  });
  if (response.status === 200) {
    const got = (await response.json()) as { products: { id: string }[] };
    assert.deepEqual(got.products.map((p) => p.id), ["wire-1"]);
  } else {
    await assertError(response, 501, "unimplemented");
  }
});

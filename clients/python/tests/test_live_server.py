"""catalog.v1 through the generated Python stubs, against a live server.

Run through tools/test (tests/with_server.sh sets CATALOG_TEST_TARGET).
"""
import os
import unittest

import grpc

from catalog.v1 import catalog_pb2, catalog_pb2_grpc


def product(product_id, title="Title"):
    return catalog_pb2.Product(
        id=product_id,
        sku="SKU-" + product_id,
        title=title,
        price=catalog_pb2.Price(currency_code="EUR", amount_minor=1999),
        stock_quantity=4,
        attributes={"color": "green"},
        category_ids=["shoes"],
    )


class LiveServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(os.environ["CATALOG_TEST_TARGET"])
        cls.stub = catalog_pb2_grpc.CatalogServiceStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def test_upsert_get_batch_delete(self):
        stored = self.stub.UpsertProducts(
            catalog_pb2.UpsertProductsRequest(products=[product("py-a", "A"), product("py-b", "B")]), timeout=5)
        self.assertEqual([p.version for p in stored.products], [1, 1])
        self.assertGreater(stored.products[0].update_time.seconds, 0)

        got = self.stub.GetProduct(catalog_pb2.GetProductRequest(id="py-a"), timeout=5)
        self.assertEqual(got.title, "A")
        self.assertEqual(got.attributes["color"], "green")

        batch = self.stub.BatchGetProducts(
            catalog_pb2.BatchGetProductsRequest(ids=["py-b", "py-none", "py-a"]), timeout=5)
        self.assertEqual([p.id for p in batch.products], ["py-b", "py-a"])
        self.assertEqual(list(batch.missing_ids), ["py-none"])

        deleted = self.stub.DeleteProducts(catalog_pb2.DeleteProductsRequest(ids=["py-a", "py-none"]), timeout=5)
        self.assertEqual(deleted.deleted_count, 1)
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.GetProduct(catalog_pb2.GetProductRequest(id="py-a"), timeout=5)
        self.assertEqual(error.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_invalid_argument_names_field_and_index(self):
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.BatchGetProducts(catalog_pb2.BatchGetProductsRequest(ids=["ok", "not ok"]), timeout=5)
        self.assertEqual(error.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(error.exception.details(),
                         'ids[1]: "not ok" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)')

    def test_stale_version_is_aborted(self):
        self.stub.UpsertProducts(catalog_pb2.UpsertProductsRequest(products=[product("py-v")]), timeout=5)
        stale = product("py-v", "stale")
        stale.version = 7
        with self.assertRaises(grpc.RpcError) as error:
            self.stub.UpsertProducts(catalog_pb2.UpsertProductsRequest(products=[stale]), timeout=5)
        self.assertEqual(error.exception.code(), grpc.StatusCode.ABORTED)
        self.assertEqual(self.stub.GetProduct(catalog_pb2.GetProductRequest(id="py-v"), timeout=5).title, "Title")


if __name__ == "__main__":
    unittest.main()

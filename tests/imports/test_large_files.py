"""Large files: every row lands, and one bad row anywhere writes nothing."""

import io
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db.models import Count, Sum

from customers.models import Customer, Order
from imports import services
from imports.management.commands.import_benchmark import write_customers, write_orders

from .helpers import codes

pytestmark = pytest.mark.django_db


def orders_csv(n: int, *, customers: int = 200) -> str:
    ids = np.arange(n)
    frame = pd.DataFrame(
        {
            "external_id": np.char.add("O", ids.astype(str)),
            "customer": np.char.add("C", (ids % customers).astype(str)),
            "date": "2024-01-31",
            "revenue": np.char.add((ids % 1000).astype(str), ".25"),
            "cost": "1.00",
        }
    )
    return frame.to_csv(index=False)


@pytest.fixture
def customers():
    Customer.objects.bulk_create(
        Customer(external_id=f"C{i}", name=f"Customer {i}") for i in range(200)
    )


def test_a_100k_row_orders_file_lands_row_for_row(customers, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(orders_csv(100_000))
    result = services.import_run(kind="orders", source=str(path))
    result.close()
    assert (result.status, result.rows, result.created) == ("imported", 100_000, 100_000)
    assert Order.objects.count() == 100_000
    # revenue of order i is (i % 1000) + 0.25: 100 times each of 0.25 … 999.25
    expected = sum(Decimal(f"{k}.25") for k in range(1000)) * 100
    assert Order.objects.aggregate(total=Sum("revenue"))["total"] == expected
    per_customer = Order.objects.values("customer__external_id").annotate(n=Count("id"))
    assert {row["n"] for row in per_customer} == {500}
    order = Order.objects.select_related("customer").get(external_id="O99999")
    assert (order.customer.external_id, order.revenue, order.cost) == (
        "C199",
        Decimal("999.25"),
        Decimal("1.00"),
    )
    again = services.import_run(kind="orders", source=str(path))
    again.close()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 100_000)


def test_one_bad_row_in_the_middle_of_a_large_file_writes_nothing(customers):
    lines = orders_csv(120_000).splitlines()
    lines[60_001] = "O60000,C1,2024-01-31,12.5O,1.00"  # a letter O for a zero, row 60,002
    lines[110_000] = "O5,C2,2024-01-31,1.00,1.00"  # a duplicate key in another chunk
    source = io.BytesIO(("\n".join(lines) + "\n").encode())
    result = services.import_run(kind="orders", source=source)
    result.close()
    assert result.status == "rejected"
    assert codes(result) == [
        (60_002, "revenue", "invalid_amount"),
        (110_001, "external_id", "duplicate_key"),
    ]
    assert "first in row 7" in result.errors[1]["reason"]
    assert result.rows == 120_000
    assert Order.objects.count() == 0


def test_the_benchmark_files_import_cleanly(tmp_path):
    write_customers(tmp_path / "c.csv", 50)
    write_orders(tmp_path / "o.csv", 5_000, 50, seed=1, chunk=2_000)
    first = services.import_run(kind="customers", source=str(tmp_path / "c.csv"))
    orders = services.import_run(kind="orders", source=str(tmp_path / "o.csv"))
    first.close()
    orders.close()
    assert (first.created, orders.created) == (50, 5_000), orders.errors
    assert Order.objects.filter(customer__segment="Benchmark").count() == 5_000

"""A small customer base simulated from known BG/NBD and Gamma-Gamma parameters, big
enough for the model to fit, written in bulk."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from customers.models import Customer, Order, SupportTicket
from economics import clv

AS_OF = dt.date(2024, 12, 31)


def build_base(n: int = 400, seed: int = 7, as_of: dt.date = AS_OF, prefix: str = "S") -> list[int]:
    rng = np.random.default_rng(seed)
    ages = rng.uniform(20, 104, n)  # weeks since the first purchase
    x, t_x, T = clv.simulate_bgnbd(n, r=0.9, alpha=10.0, a=0.6, b=6.0, T_weeks=ages, seed=seed)
    who, day, margin = clv.simulate_orders(
        x, t_x, T, as_of, seed=seed + 1, p=6.0, q=4.0, gamma=15.0
    )
    customers = Customer.objects.bulk_create(
        Customer(
            external_id=f"{prefix}{i:05d}",
            name=f"Simulated {i}",
            segment=["Enterprise", "Mid-market", "Small business"][i % 3],
            acquisition_channel=["Direct", "Partner", "Paid ads"][i % 3],
            sales_rep=["Ann", "Ben"][i % 2],
            acquired_on=(np.datetime64(as_of) - int(np.rint(ages[i] * 7))).astype(dt.date),
            acquisition_cost=Decimal("40.00"),
            sales_bonus=Decimal("10.00") if i % 2 else Decimal("0.00"),
        )
        for i in range(n)
    )
    ids = [c.pk for c in customers]
    Order.objects.bulk_create(
        Order(
            external_id=f"{prefix}O{k:06d}",
            customer_id=ids[int(c)],
            date=d.astype(dt.date),
            revenue=Decimal(f"{m * 2:.2f}"),
            cost=Decimal(f"{m:.2f}"),
        )
        for k, (c, d, m) in enumerate(zip(who, day, margin, strict=True))
    )
    # A few complainers who cost more than they bring.
    for k, pk in enumerate(ids[:12]):
        SupportTicket.objects.bulk_create(
            SupportTicket(
                external_id=f"{prefix}T{k}-{j}",
                customer_id=pk,
                opened_at=dt.datetime(2024, 6, 3 + j, 10, tzinfo=dt.UTC),
                is_complaint=True,
            )
            for j in range(25)
        )
    return ids


@pytest.fixture
def simulated_base(db):
    return build_base()

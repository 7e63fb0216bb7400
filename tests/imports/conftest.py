from __future__ import annotations

import pytest

from imports.models import ImportJob


@pytest.fixture
def running_orders_import(db):
    return ImportJob.objects.create(
        kind="orders", status=ImportJob.Status.IMPORTING, origin=ImportJob.Origin.CLI
    )

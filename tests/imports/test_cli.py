"""python manage.py import_data KIND FILE [--dry-run] [--create-missing-customers]"""

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, Order
from imports.models import ImportJob
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

GOOD = "external_id,customer,date,revenue,cost\nO1,C1,2024-02-01,10.00,4.00\n"
BAD = "external_id,customer,date,revenue,cost\nO1,C1,2024-02-01,10.00,4.00\nO2,C1,someday,1,=1+1\n"


@pytest.fixture
def orders_file(tmp_path):
    def write(text: str):
        path = tmp_path / "orders.csv"
        path.write_text(text)
        return str(path)

    return write


def test_a_good_file_is_imported_and_the_command_succeeds(orders_file, capsys):
    CustomerFactory(external_id="C1")
    call_command("import_data", "orders", orders_file(GOOD))
    out = capsys.readouterr().out
    assert "Imported orders.csv: 1 row: 1 created, 0 updated, 0 unchanged." in out
    assert Order.objects.filter(external_id="O1").exists()


def test_a_bad_file_exits_1_and_prints_every_error(orders_file, capsys):
    CustomerFactory(external_id="C1")
    with pytest.raises(SystemExit) as exit_:
        call_command("import_data", "orders", orders_file(BAD))
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Rejected orders.csv: 1 of 2 rows have errors (2 in all); nothing was written." in err
    assert "row 3, date = 'someday': is not a date (YYYY-MM-DD)" in err
    assert "row 3, cost = '=1+1': is not an amount" in err
    assert not Order.objects.exists()


def test_dry_run_validates_and_writes_nothing(orders_file, capsys):
    CustomerFactory(external_id="C1")
    call_command("import_data", "orders", orders_file(GOOD), "--dry-run")
    assert "1 would be created" in capsys.readouterr().out
    assert not Order.objects.exists()
    assert ImportJob.objects.get().status == ImportJob.Status.VALIDATED


def test_create_missing_customers(orders_file):
    call_command("import_data", "orders", orders_file(GOOD), "--create-missing-customers")
    assert Customer.objects.get(external_id="C1").orders.count() == 1


def test_a_missing_file_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("import_data", "orders", str(tmp_path / "nope.csv"))
    assert exit_.value.code == 1
    assert "cannot be opened" in capsys.readouterr().err


def test_a_second_import_of_the_same_kind_is_refused(orders_file, running_orders_import):
    CustomerFactory(external_id="C1")
    with pytest.raises(CommandError, match="An import of orders is already running") as err:
        call_command("import_data", "orders", orders_file(GOOD))
    assert err.value.returncode == 3
    assert not Order.objects.exists()


def test_an_unknown_kind_is_a_usage_error(orders_file):
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("import_data", "shipments", orders_file(GOOD))

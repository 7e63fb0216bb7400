from decimal import Decimal

from roles.consistency import DANGER, INFO, WARNING, check_blueprint

MEASURED = [{"stage": "purchase", "stage_label": "Purchase", "metric": "purchases_per_year",
             "target": "10", "weight": "1", "excluded": False}]  # fmt: skip


def levels(findings) -> list[tuple[str, str]]:
    return [(f.level, f.message) for f in findings]


def test_a_role_that_adds_up_says_only_what_it_implies():
    found = check_blueprint(
        {"annual_value": "30000", "purchases_per_year": "10", "purchase_value": "10000",
         "lifetime_value": "90000", "relationship_length_months": "36"},
        MEASURED, [{"title": "Reviews", "yearly_cost": "1000"}],
    )  # fmt: skip
    assert [f.level for f in found] == [INFO]
    assert "gross margin of 30 %" in found[0].message


def test_lifetime_value_must_match_annual_value_times_length():
    found = check_blueprint(
        {"annual_value": "10000", "lifetime_value": "100000", "relationship_length_months": "24"},
        MEASURED,
        [],
    )
    assert found[0].level == WARNING
    assert "20,000" in found[0].message


def test_margin_cannot_exceed_the_revenue_of_the_purchases():
    found = check_blueprint(
        {"annual_value": "50000", "purchases_per_year": "2", "purchase_value": "1000"}, MEASURED, []
    )
    assert found[0].level == DANGER
    assert "cannot exceed revenue" in found[0].message


def test_commitments_costing_more_than_the_customer_brings_are_a_loss_by_design():
    found = check_blueprint(
        {"annual_value": "10000"},
        MEASURED,
        [{"title": "Manager", "yearly_cost": Decimal("12000")}],
        currency="EUR",
    )
    assert found[0].level == DANGER
    assert "loss by design" in found[0].message
    assert "EUR 12,000" in found[0].message


def test_commitments_costing_over_half_the_value_are_flagged():
    found = check_blueprint(
        {"annual_value": "10000"}, MEASURED, [{"title": "x", "yearly_cost": "6000"}]
    )
    assert found[0].level == WARNING
    assert "60 %" in found[0].message


def test_a_role_with_nothing_measured_cannot_be_scored():
    excluded = [{"stage": "purchase", "stage_label": "Purchase", "excluded": True,
                 "exclusion_reason": ""}]  # fmt: skip
    messages = [f.message for f in check_blueprint({}, excluded, [])]
    assert "No expectation is measured: the role cannot be scored." in messages
    assert "“Purchase” is left out without a reason." in messages


def test_more_repeat_purchases_than_purchases_is_flagged():
    expectations = [{"stage": "repeat_purchase", "stage_label": "Repeat purchase",
                     "metric": "repeat_purchases_per_year", "target": "6", "weight": "1",
                     "excluded": False}]  # fmt: skip
    found = check_blueprint({"purchases_per_year": "4"}, expectations, [])
    assert (WARNING, "Expecting 6 repeat purchases a year but only 4 purchases in all.") in levels(
        found
    )

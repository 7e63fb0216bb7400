"""Serializers of the REST API.

Records read back with the same field names an import uses (``customer`` is the
customer's ``external_id``, ``activity_type`` the type's ``code`` …), so what is read
can be sent back as it is. Writes are not validated here: they go through the import
specs (``imports.specs``), the same validation files get; the row serializers below
only describe the request bodies in the OpenAPI schema.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import (
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from economics.api import CustomerFiguresSerializer
from imports.specs import SPECS, Spec, Type, describe_type
from roles.models import Charter, LifecycleExpectation, RoleBlueprint


def _customer_key(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="external_id", read_only=True, **kwargs)


class CustomerSerializer(serializers.ModelSerializer):
    account_manager = serializers.SlugRelatedField(slug_field="username", read_only=True)
    economics = serializers.SerializerMethodField(
        help_text="The current economics run's figures; null before the first run, and "
        "for integrators."
    )

    @extend_schema_field(CustomerFiguresSerializer(allow_null=True))
    def get_economics(self, customer: Customer) -> dict | None:
        scores = getattr(customer, "current_scores", None)
        return CustomerFiguresSerializer(scores[0]).data if scores else None

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "name",
            "segment",
            "industry",
            "acquisition_channel",
            "sales_rep",
            "acquired_on",
            "acquisition_cost",
            "sales_bonus",
            "account_manager",
            "status",
            "released_on",
            "created_at",
            "updated_at",
            "economics",
        ]


class OrderSerializer(serializers.ModelSerializer):
    customer = _customer_key()

    class Meta:
        model = Order
        fields = ["id", "external_id", "customer", "date", "revenue", "cost", "category", "kind"]


class InvoiceSerializer(serializers.ModelSerializer):
    customer = _customer_key()
    order = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "external_id",
            "customer",
            "order",
            "issued_on",
            "due_on",
            "paid_on",
            "amount",
        ]


class TicketSerializer(serializers.ModelSerializer):
    customer = _customer_key()

    class Meta:
        model = SupportTicket
        fields = [
            "id",
            "external_id",
            "customer",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "priority",
            "channel",
            "is_complaint",
            "csat",
            "subject",
        ]


class ActivitySerializer(serializers.ModelSerializer):
    customer = _customer_key()
    activity_type = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ServiceActivity
        fields = [
            "id",
            "external_id",
            "customer",
            "activity_type",
            "date",
            "quantity",
            "amount",
            "note",
        ]


class ReferralSerializer(serializers.ModelSerializer):
    referrer = _customer_key()
    referred = _customer_key()

    class Meta:
        model = Referral
        fields = ["id", "external_id", "referrer", "referred", "referred_name", "date"]


class FeedbackSerializer(serializers.ModelSerializer):
    customer = _customer_key()

    class Meta:
        model = Feedback
        fields = ["id", "external_id", "customer", "date", "kind", "score", "insight"]


READ_SERIALIZERS: dict[str, type[serializers.ModelSerializer]] = {
    "customers": CustomerSerializer,
    "orders": OrderSerializer,
    "invoices": InvoiceSerializer,
    "tickets": TicketSerializer,
    "activities": ActivitySerializer,
    "referrals": ReferralSerializer,
    "feedback": FeedbackSerializer,
}


class ExpectationSerializer(serializers.ModelSerializer):
    class Meta:
        model = LifecycleExpectation
        fields = [
            "stage",
            "metric",
            "target",
            "direction",
            "weight",
            "excluded",
            "exclusion_reason",
        ]


class BlueprintSerializer(serializers.ModelSerializer):
    expectations = ExpectationSerializer(many=True, read_only=True)

    class Meta:
        model = RoleBlueprint
        fields = [
            "id",
            "name",
            "description",
            "status",
            "relationship_length_months",
            "purchases_per_year",
            "purchase_value",
            "lifetime_value",
            "annual_value",
            "annual_value_growth_pct",
            "referrals_per_year",
            "insights_per_year",
            "cross_sell_products",
            "expectations",
            "created_at",
            "updated_at",
            "retired_at",
        ]


class CharterSerializer(serializers.ModelSerializer):
    customer = _customer_key()
    blueprint = serializers.SlugRelatedField(slug_field="name", read_only=True)
    blueprint_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Charter
        fields = [
            "id",
            "customer",
            "blueprint",
            "blueprint_id",
            "version",
            "status",
            "target_overrides",
            "agreed_on",
            "agreed_by",
            "notes",
            "created_at",
            "updated_at",
        ]


# --- request and response bodies (for the schema) -----------------------------------


class RecordFilterSerializer(serializers.Serializer):
    customer = serializers.CharField(
        required=False, help_text="Only this customer's records (its `external_id`)."
    )
    date_from = serializers.DateField(required=False, help_text="From this date (inclusive).")
    date_to = serializers.DateField(required=False, help_text="Up to this date (inclusive).")

    def validate(self, attrs):
        if (
            attrs.get("date_from")
            and attrs.get("date_to")
            and attrs["date_to"] < attrs["date_from"]
        ):
            raise serializers.ValidationError({"date_to": "must not be before date_from"})
        return attrs


class CharterFilterSerializer(RecordFilterSerializer):
    status = serializers.ChoiceField(choices=Charter.Status.choices, required=False)


class BlueprintFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=RoleBlueprint.Status.choices, required=False)


def row_serializer(spec: Spec) -> type[serializers.Serializer]:
    """A serializer describing one import row of ``spec`` (schema only)."""
    fields: dict[str, serializers.Field] = {}
    for column in spec.columns:
        help_text = f"{column.help} ({describe_type(column)})"
        if column.type == Type.BOOLEAN:
            fields[column.name] = serializers.BooleanField(
                required=column.required, help_text=help_text
            )
        else:
            fields[column.name] = serializers.CharField(
                required=column.required,
                allow_blank=not column.required,
                allow_null=not column.required,
                help_text=help_text,
            )
    name = f"{spec.kind.value.title()}Row"
    return type(name, (serializers.Serializer,), fields)


ROW_SERIALIZERS = {kind: row_serializer(spec) for kind, spec in SPECS.items()}


def bulk_serializer(kind: str) -> type[serializers.Serializer]:
    return type(
        f"{kind.title()}BulkRequest",
        (serializers.Serializer,),
        {
            "rows": serializers.ListField(
                child=ROW_SERIALIZERS[kind](), help_text="The records, at most 10,000."
            ),
            "dry_run": serializers.BooleanField(
                default=False, help_text="Validate and count, write nothing."
            ),
            "create_missing_customers": serializers.BooleanField(
                default=False, help_text="Create customers the rows name but Tango lacks."
            ),
        },
    )


BULK_SERIALIZERS = {kind: bulk_serializer(kind) for kind in SPECS}


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        allow_null=True, help_text="Position of the record in `rows` (1 = the first)."
    )
    column = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    code = serializers.CharField(help_text="A stable code, e.g. `required`, `invalid_date`.")
    reason = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=["imported", "validated", "rejected"])
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField(help_text="Rows with at least one error.")
    customers_created = serializers.IntegerField()
    error_count = serializers.IntegerField()
    errors = ImportErrorSerializer(many=True)
    summary = serializers.CharField()
    job = serializers.IntegerField(allow_null=True, help_text="The entry in the import history.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()

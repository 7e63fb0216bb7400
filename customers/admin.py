from django.contrib import admin

from .models import (
    ActivityRate,
    ActivityType,
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "name",
        "segment",
        "acquisition_channel",
        "account_manager",
        "status",
        "acquired_on",
    ]
    list_filter = ["status", "segment", "acquisition_channel", "industry"]
    search_fields = ["external_id", "name", "sales_rep"]
    list_select_related = ["account_manager"]
    autocomplete_fields = ["account_manager"]
    date_hierarchy = "acquired_on"


class CustomerChildAdmin(admin.ModelAdmin):
    search_fields = ["external_id", "customer__name", "customer__external_id"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]


@admin.register(Order)
class OrderAdmin(CustomerChildAdmin):
    list_display = ["external_id", "customer", "date", "revenue", "cost", "category", "kind"]
    list_filter = ["kind", "category"]
    date_hierarchy = "date"


@admin.register(Invoice)
class InvoiceAdmin(CustomerChildAdmin):
    list_display = ["external_id", "customer", "issued_on", "due_on", "paid_on", "amount"]
    raw_id_fields = ["customer", "order"]
    date_hierarchy = "issued_on"


@admin.register(SupportTicket)
class SupportTicketAdmin(CustomerChildAdmin):
    list_display = [
        "external_id",
        "customer",
        "opened_at",
        "priority",
        "channel",
        "is_complaint",
        "csat",
    ]
    list_filter = ["is_complaint", "priority", "channel"]
    date_hierarchy = "opened_at"


class ActivityRateInline(admin.TabularInline):
    model = ActivityRate
    extra = 1


@admin.register(ActivityType)
class ActivityTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "unit"]
    list_filter = ["kind"]
    search_fields = ["code", "name"]
    inlines = [ActivityRateInline]


@admin.register(ServiceActivity)
class ServiceActivityAdmin(CustomerChildAdmin):
    list_display = ["external_id", "customer", "activity_type", "date", "quantity", "amount"]
    list_filter = ["activity_type"]
    list_select_related = ["customer", "activity_type"]
    date_hierarchy = "date"


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ["external_id", "referrer", "referred", "referred_name", "date"]
    search_fields = ["external_id", "referrer__name", "referred__name", "referred_name"]
    list_select_related = ["referrer", "referred"]
    raw_id_fields = ["referrer", "referred"]


@admin.register(Feedback)
class FeedbackAdmin(CustomerChildAdmin):
    list_display = ["external_id", "customer", "date", "kind", "score"]
    list_filter = ["kind"]
    date_hierarchy = "date"

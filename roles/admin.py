from django.contrib import admin

from commitments.models import Commitment

from .models import Charter, CharterEvent, ExpectationOverride, LifecycleExpectation, RoleBlueprint


class LifecycleExpectationInline(admin.TabularInline):
    model = LifecycleExpectation
    extra = 0


class CommitmentInline(admin.StackedInline):
    model = Commitment
    extra = 0


@admin.register(RoleBlueprint)
class RoleBlueprintAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "annual_value", "purchases_per_year", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    inlines = [LifecycleExpectationInline, CommitmentInline]


class ExpectationOverrideInline(admin.TabularInline):
    model = ExpectationOverride
    extra = 0


class CharterEventInline(admin.TabularInline):
    model = CharterEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "by", "action", "from_status", "to_status", "detail"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Charter)
class CharterAdmin(admin.ModelAdmin):
    list_display = ["customer", "blueprint", "version", "status", "agreed_on", "agreed_by"]
    list_filter = ["status", "blueprint"]
    search_fields = ["customer__name", "customer__external_id"]
    list_select_related = ["customer", "blueprint"]
    raw_id_fields = ["customer"]
    inlines = [ExpectationOverrideInline, CharterEventInline]

from django.contrib import admin

from .models import Case, CaseEvent, ExitChecklistItem


class ExitChecklistItemInline(admin.TabularInline):
    model = ExitChecklistItem
    extra = 0
    readonly_fields = ["step", "detail", "done_at", "done_by"]
    fields = ["position", "step", "detail", "done_at", "done_by"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "by", "action", "from_status", "to_status", "what", "note"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Read-only: cases move through the CX pages, which keep their history."""

    list_display = ["pk", "customer", "status", "decision", "approval", "assignee", "opened_at"]
    list_filter = ["status", "decision", "approval"]
    search_fields = ["customer__name", "customer__external_id"]
    list_select_related = ["customer", "assignee"]
    raw_id_fields = ["customer", "flags"]
    inlines = [ExitChecklistItemInline, CaseEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

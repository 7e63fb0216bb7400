from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is for looking, never for adding, changing or deleting."""

    list_display = ["at", "actor_label", "action", "object_type", "object_repr", "ip"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_repr", "object_id"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

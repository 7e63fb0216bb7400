from django.contrib import admin

from .models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "at", "eager"]
    readonly_fields = ["hostname", "at", "eager"]

    def has_add_permission(self, request) -> bool:
        return False

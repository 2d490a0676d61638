from django.contrib import admin

from crisis.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("service", "node", "pid", "beat_at")
    readonly_fields = ("service", "node", "pid", "beat_at")

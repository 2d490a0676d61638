from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.middleware import HtmxDetails

from crisis import health, services
from crisis.forms import UserRolesForm
from crisis.permissions import capability_required
from crisis.selectors import user_role_labels, user_roles, users_with_roles


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "crisis/home.html")


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    ok, report = health.health_report()
    return JsonResponse(report, status=200 if ok else 503, json_dumps_params={"indent": 2})


@require_GET
@capability_required("view_console")
def team_roles(request: HtmxHttpRequest) -> HttpResponse:
    rows = [(u, user_role_labels(u)) for u in users_with_roles()]
    can_edit = request.user.has_perm("crisis.manage_roles")
    return render(request, "crisis/team_roles.html", {"rows": rows, "can_edit": can_edit})


@require_http_methods(["GET", "POST"])
@capability_required("manage_roles")
def team_roles_edit(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id, is_active=True)
    form = UserRolesForm(request.POST or None, initial={"roles": user_roles(member)})
    if request.method == "POST" and form.is_valid():
        services.user_set_roles(user=member, roles=form.cleaned_data["roles"], actor=request.user)
        messages.success(request, _("Roles of %(name)s saved.") % {"name": member.get_username()})
        return redirect("team_roles")
    return render(request, "crisis/team_roles_edit.html", {"member": member, "form": form})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else _("You may not do this.")
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"error": message}, status=403)
    return render(request, "403.html", {"message": message}, status=403)

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .personas import Persona, has_persona

READERS = (Persona.ADMIN, Persona.EXECUTIVE, Persona.ACCOUNT_MANAGER, Persona.CX)


def persona_required(*personas: Persona) -> Callable:
    """Anonymous users go to the login page; signed-in users without one of the
    personas get 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_persona(request.user, *personas):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator

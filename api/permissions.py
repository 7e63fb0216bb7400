"""Who may use the REST API, by persona.

Reading follows the persona's rights: executives, the CX team and admins read every
customer's data; an account manager reads their own customers' data only; integrators
read the seven kinds of data they load (not roles or charters). Writing needs an
integrator or an admin.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.personas import Persona, has_persona

WRITERS = (Persona.ADMIN, Persona.INTEGRATOR)
DATA_READERS = (
    Persona.ADMIN,
    Persona.EXECUTIVE,
    Persona.ACCOUNT_MANAGER,
    Persona.CX,
    Persona.INTEGRATOR,
)
ROLE_READERS = (Persona.ADMIN, Persona.EXECUTIVE, Persona.ACCOUNT_MANAGER, Persona.CX)


class PersonaPermission(BasePermission):
    """The view names ``read_personas`` and ``write_personas``."""

    message = "Your role in Tango does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return has_persona(user, *view.read_personas)
        return has_persona(user, *getattr(view, "write_personas", ()))

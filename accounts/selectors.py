from django.db.models import QuerySet

from .models import User
from .personas import Persona


def account_managers() -> QuerySet[User]:
    return User.objects.filter(groups__name=Persona.ACCOUNT_MANAGER.value, is_active=True)

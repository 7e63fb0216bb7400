"""Sign-ins, failed sign-ins and sign-outs, from Django's authentication signals."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .services import AuditAction, audit_record


@receiver(user_logged_in, dispatch_uid="audit_login")
def record_login(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditAction.LOGIN, actor=user, request=request)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """No user: the attempt did not prove who it was. The username is kept as typed."""
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    audit_record(action=AuditAction.LOGIN_FAILED, actor_label=username, request=request)


@receiver(user_logged_out, dispatch_uid="audit_logout")
def record_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditAction.LOGOUT, actor=user, request=request)

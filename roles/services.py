"""Writes for role blueprints and charters. Every charter change leaves a CharterEvent."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import AuditAction, audit_record
from commitments.models import Commitment, CommitmentOverride
from customers.models import Customer

from .models import (
    Charter,
    CharterEvent,
    CharterShareLink,
    ExpectationOverride,
    LifecycleExpectation,
    LifecycleStage,
    RoleBlueprint,
)

BLUEPRINT_TARGET_FIELDS = [
    "relationship_length_months",
    "purchases_per_year",
    "purchase_value",
    "lifetime_value",
    "annual_value",
    "annual_value_growth_pct",
    "referrals_per_year",
    "insights_per_year",
    "cross_sell_products",
]
EXPECTATION_FIELDS = [
    "metric",
    "metric_params",
    "target",
    "direction",
    "weight",
    "excluded",
    "exclusion_reason",
]
COMMITMENT_FIELDS = [
    "kind",
    "title",
    "description",
    "metric",
    "metric_params",
    "target",
    "direction",
    "weight",
    "yearly_cost",
]


# --- blueprints ---------------------------------------------------------------------


@transaction.atomic
def blueprint_save(
    *,
    blueprint: RoleBlueprint | None,
    fields: dict,
    expectations: dict[str, dict],
    commitments: list[dict],
    user,
) -> RoleBlueprint:
    """Create or update a blueprint with its expectations (one per lifecycle stage) and
    its commitments. ``commitments`` items carry ``id`` when they exist already and
    ``delete`` when they are to go."""
    if blueprint is None:
        blueprint = RoleBlueprint(created_by=user)
    for name in ["name", "description", *BLUEPRINT_TARGET_FIELDS]:
        if name in fields:
            setattr(blueprint, name, fields[name])
    blueprint.full_clean()
    blueprint.save()

    existing = {e.stage: e for e in blueprint.expectations.all()}
    for stage in LifecycleStage.values:
        values = expectations.get(stage)
        if values is None:
            continue
        expectation = existing.get(stage) or LifecycleExpectation(blueprint=blueprint, stage=stage)
        for name in EXPECTATION_FIELDS:
            if name in values:
                setattr(expectation, name, values[name])
        if expectation.excluded:
            expectation.metric, expectation.target, expectation.metric_params = "", None, {}
        expectation.full_clean()
        expectation.save()

    current = {c.pk: c for c in blueprint.commitments.all()}
    for values in commitments:
        commitment = current.get(values.get("id")) if values.get("id") else None
        if values.get("delete"):
            if commitment is not None:
                commitment.delete()
            continue
        commitment = commitment or Commitment(blueprint=blueprint)
        for name in COMMITMENT_FIELDS:
            if name in values:
                setattr(commitment, name, values[name])
        if not commitment.metric:
            commitment.target, commitment.metric_params = None, {}
        commitment.full_clean()
        commitment.save()
    audit_record(
        action=AuditAction.BLUEPRINT_SAVED,
        actor=user,
        obj=blueprint,
        detail={**fields, "expectations": expectations, "commitments": commitments},
    )
    return blueprint


@transaction.atomic
def blueprint_duplicate(
    *, blueprint: RoleBlueprint, user, name: str | None = None
) -> RoleBlueprint:
    base = name or f"{blueprint.name} (copy)"
    candidate, n = base, 2
    while RoleBlueprint.objects.filter(name=candidate).exists():
        candidate, n = f"{base} {n}", n + 1
    copy = RoleBlueprint.objects.get(pk=blueprint.pk)
    copy.pk = None
    copy.name = candidate
    copy.status = RoleBlueprint.Status.ACTIVE
    copy.retired_at = None
    copy.created_by = user
    copy.full_clean()
    copy.save()
    LifecycleExpectation.objects.bulk_create(
        LifecycleExpectation(
            blueprint=copy, **{f: getattr(e, f) for f in ["stage", *EXPECTATION_FIELDS]}
        )
        for e in blueprint.expectations.all()
    )
    Commitment.objects.bulk_create(
        Commitment(blueprint=copy, **{f: getattr(c, f) for f in COMMITMENT_FIELDS})
        for c in blueprint.commitments.all()
    )
    audit_record(
        action=AuditAction.BLUEPRINT_DUPLICATED, actor=user, obj=copy, detail={"from": blueprint}
    )
    return copy


def blueprint_retire(*, blueprint: RoleBlueprint, user=None) -> RoleBlueprint:
    """A retired blueprint stays on the charters that use it but cannot be assigned."""
    if blueprint.status == RoleBlueprint.Status.RETIRED:
        return blueprint
    blueprint.status = RoleBlueprint.Status.RETIRED
    blueprint.retired_at = timezone.now()
    blueprint.save(update_fields=["status", "retired_at", "updated_at"])
    audit_record(action=AuditAction.BLUEPRINT_RETIRED, actor=user, obj=blueprint)
    return blueprint


def blueprint_reactivate(*, blueprint: RoleBlueprint, user=None) -> RoleBlueprint:
    blueprint.status = RoleBlueprint.Status.ACTIVE
    blueprint.retired_at = None
    blueprint.save(update_fields=["status", "retired_at", "updated_at"])
    audit_record(action=AuditAction.BLUEPRINT_REACTIVATED, actor=user, obj=blueprint)
    return blueprint


# --- charters -----------------------------------------------------------------------


def _event(charter: Charter, *, user, action: str, before: str = "", detail=None) -> None:
    from .selectors import charter_snapshot

    CharterEvent.objects.create(
        charter=charter,
        by=user,
        action=action,
        from_status=before,
        to_status=charter.status,
        detail={"snapshot": charter_snapshot(charter), **(detail or {})},
    )
    audit_record(
        action=AuditAction.CHARTER_CREATED if action == "created" else AuditAction.CHARTER_CHANGED,
        actor=user,
        obj=charter,
        detail={"event": action, "from": before, "to": charter.status, **(detail or {})},
    )


def _next_version(customer: Customer) -> int:
    return (Charter.objects.filter(customer=customer).aggregate(v=Max("version"))["v"] or 0) + 1


@transaction.atomic
def charter_create(
    *, customer: Customer, blueprint: RoleBlueprint, user, notes: str = ""
) -> Charter:
    """A new draft charter assigning ``blueprint`` to ``customer``."""
    if blueprint.status != RoleBlueprint.Status.ACTIVE:
        raise ValidationError("A retired blueprint cannot be assigned.")
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if Charter.objects.filter(
        customer=customer, status__in=[Charter.Status.DRAFT, Charter.Status.PROPOSED]
    ).exists():
        raise ValidationError(
            f"{customer.name} already has a charter in draft or proposed; finish that first."
        )
    charter = Charter(
        customer=customer,
        blueprint=blueprint,
        version=_next_version(customer),
        status=Charter.Status.DRAFT,
        notes=notes,
        created_by=user,
    )
    charter.full_clean()
    charter.save()
    _event(charter, user=user, action="created")
    return charter


def charters_assign(
    *, customers: Iterable[Customer], blueprint: RoleBlueprint, user
) -> tuple[list[Charter], list[tuple[Customer, str]]]:
    """Assign a blueprint to many customers as drafts. Customers that already have a
    charter in the making are skipped with the reason; the others each get one."""
    made, skipped = [], []
    for customer in customers:
        try:
            made.append(charter_create(customer=customer, blueprint=blueprint, user=user))
        except ValidationError as exc:
            skipped.append((customer, " ".join(exc.messages)))
    return made, skipped


@transaction.atomic
def charter_new_version(*, charter: Charter, user) -> Charter:
    """A new draft from an agreed charter, with the same blueprint and overrides. The
    agreed one stays in force until the new one is agreed."""
    charter = Charter.objects.get(pk=charter.pk)
    if charter.status != Charter.Status.AGREED:
        raise ValidationError("Only an agreed charter gets a new version.")
    draft = charter_create(customer=charter.customer, blueprint=charter.blueprint, user=user)
    draft.target_overrides = dict(charter.target_overrides)
    draft.save(update_fields=["target_overrides", "updated_at"])
    ExpectationOverride.objects.bulk_create(
        ExpectationOverride(
            charter=draft,
            expectation_id=o.expectation_id,
            target=o.target,
            weight=o.weight,
            excluded=o.excluded,
            reason=o.reason,
        )
        for o in charter.expectation_overrides.all()
    )
    CommitmentOverride.objects.bulk_create(
        CommitmentOverride(
            charter=draft,
            commitment_id=o.commitment_id,
            target=o.target,
            yearly_cost=o.yearly_cost,
            excluded=o.excluded,
            reason=o.reason,
        )
        for o in charter.commitment_overrides.all()
    )
    audit_record(
        action=AuditAction.CHARTER_CHANGED,
        actor=user,
        obj=draft,
        detail={"event": "new version", "from_version": charter.version},
    )
    return draft


def _require(charter: Charter, *statuses: str) -> None:
    if charter.status not in statuses:
        labels = " or ".join(Charter.Status(s).label.lower() for s in statuses)
        raise ValidationError(
            f"This charter is {charter.get_status_display().lower()}; it must be {labels}."
        )


@transaction.atomic
def charter_update_overrides(
    *,
    charter: Charter,
    target_overrides: dict,
    expectation_overrides: dict[int, dict],
    commitment_overrides: dict[int, dict],
    notes: str | None = None,
    user,
) -> Charter:
    """Set this customer's own targets. Only a draft can be changed. An override equal
    to the blueprint (no value given, not excluded) is removed."""
    charter = Charter.objects.select_for_update().get(pk=charter.pk)
    _require(charter, Charter.Status.DRAFT)
    charter.target_overrides = {
        k: str(v) for k, v in target_overrides.items() if v not in (None, "")
    }
    if notes is not None:
        charter.notes = notes
    charter.full_clean()
    charter.save(update_fields=["target_overrides", "notes", "updated_at"])

    valid_expectations = set(charter.blueprint.expectations.values_list("pk", flat=True))
    for expectation_id, values in expectation_overrides.items():
        if expectation_id not in valid_expectations:
            raise ValidationError("That expectation belongs to another blueprint.")
        _apply_override(
            ExpectationOverride,
            {"charter": charter, "expectation_id": expectation_id},
            values,
            ["target", "weight", "excluded", "reason"],
        )
    valid_commitments = set(charter.blueprint.commitments.values_list("pk", flat=True))
    for commitment_id, values in commitment_overrides.items():
        if commitment_id not in valid_commitments:
            raise ValidationError("That commitment belongs to another blueprint.")
        _apply_override(
            CommitmentOverride,
            {"charter": charter, "commitment_id": commitment_id},
            values,
            ["target", "yearly_cost", "excluded", "reason"],
        )
    _event(charter, user=user, action="edited", before=charter.status)
    return charter


def _apply_override(model, key: dict, values: dict, fields: list[str]) -> None:
    meaningful = values.get("excluded") or any(
        values.get(f) not in (None, "") for f in fields if f not in ("excluded", "reason")
    )
    if not meaningful:
        model.objects.filter(**key).delete()
        return
    if values.get("excluded") and not (values.get("reason") or "").strip():
        raise ValidationError("Say why an item is left out for this customer.")
    obj = model.objects.filter(**key).first() or model(**key)
    for f in fields:
        value = values.get(f)
        if f == "excluded":
            value = bool(value)
        elif f == "reason":
            value = (value or "").strip()
        setattr(obj, f, value)
    obj.full_clean(exclude=["charter"])
    obj.save()


@transaction.atomic
def charter_propose(*, charter: Charter, user) -> Charter:
    charter = Charter.objects.select_for_update().get(pk=charter.pk)
    _require(charter, Charter.Status.DRAFT)
    charter.status = Charter.Status.PROPOSED
    charter.save(update_fields=["status", "updated_at"])
    _event(charter, user=user, action="proposed", before=Charter.Status.DRAFT)
    return charter


@transaction.atomic
def charter_withdraw(*, charter: Charter, user, reason: str = "") -> Charter:
    """Back to draft, e.g. when the customer asks for changes."""
    charter = Charter.objects.select_for_update().get(pk=charter.pk)
    _require(charter, Charter.Status.PROPOSED)
    charter.status = Charter.Status.DRAFT
    charter.save(update_fields=["status", "updated_at"])
    _event(charter, user=user, action="withdrawn", before=Charter.Status.PROPOSED,
           detail={"reason": reason})  # fmt: skip
    return charter


@transaction.atomic
def charter_agree(*, charter: Charter, agreed_on: dt.date, agreed_by: str, user) -> Charter:
    """The customer agreed. The charter agreed before, if any, is superseded."""
    charter = Charter.objects.select_for_update().get(pk=charter.pk)
    _require(charter, Charter.Status.PROPOSED)
    if not agreed_by.strip():
        raise ValidationError({"agreed_by": "Name the person who agreed for the customer."})
    if agreed_on > timezone.localdate():
        raise ValidationError({"agreed_on": "An agreement cannot be dated in the future."})
    for previous in Charter.objects.select_for_update().filter(
        customer=charter.customer, status=Charter.Status.AGREED
    ):
        previous.status = Charter.Status.SUPERSEDED
        previous.save(update_fields=["status", "updated_at"])
        _event(previous, user=user, action="superseded", before=Charter.Status.AGREED,
               detail={"by_version": charter.version})  # fmt: skip
    charter.status = Charter.Status.AGREED
    charter.agreed_on = agreed_on
    charter.agreed_by = agreed_by.strip()
    try:
        charter.save(update_fields=["status", "agreed_on", "agreed_by", "updated_at"])
    except IntegrityError as exc:  # another agreement won the race
        raise ValidationError("Another version was agreed at the same moment.") from exc
    _event(charter, user=user, action="agreed", before=Charter.Status.PROPOSED)
    return charter


# --- share links --------------------------------------------------------------------

SHARE_LINK_DAYS = 30


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def share_link_create(
    *, charter: Charter, user, days: int = SHARE_LINK_DAYS
) -> tuple[CharterShareLink, str]:
    """A read-only link for the customer. Returns the link and its token; the token is
    not stored (only its hash), so it can be shown once."""
    if not 1 <= days <= 365:
        raise ValidationError("A share link lasts from 1 to 365 days.")
    token = secrets.token_urlsafe(32)
    link = CharterShareLink.objects.create(
        charter=charter,
        token_hash=_hash(token),
        created_by=user,
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    _event(charter, user=user, action="share link created", before=charter.status,
           detail={"link": link.pk, "expires_at": link.expires_at.isoformat()})  # fmt: skip
    return link, token


def share_link_revoke(*, link: CharterShareLink, user) -> CharterShareLink:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        _event(link.charter, user=user, action="share link revoked", before=link.charter.status,
               detail={"link": link.pk})  # fmt: skip
    return link


def share_link_open(*, token: str) -> CharterShareLink | None:
    """The usable link for a token, or None when unknown, expired or revoked."""
    link = (
        CharterShareLink.objects.select_related("charter__customer", "charter__blueprint")
        .filter(token_hash=_hash(token))
        .first()
    )
    now = timezone.now()
    if link is None or not link.is_usable(now):
        return None
    CharterShareLink.objects.filter(pk=link.pk).update(last_opened_at=now)
    return link

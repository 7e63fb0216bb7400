"""REST API views: thin. Reads come from ``api.selectors``; every write, one record or
ten thousand, goes through the import service with the same validation as a file."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from imports import selectors as import_selectors
from imports import services as import_services
from imports.models import ImportJob
from imports.reading import too_large_message
from imports.specs import SPECS

from . import selectors, serializers
from .permissions import DATA_READERS, ROLE_READERS, WRITERS, PersonaPermission

SCALARS = (str, int, float, bool, type(None))


class ApiPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


def _error(row: int | None, column: str, value: Any, code: str, reason: str) -> dict[str, Any]:
    return {"row": row, "column": column, "value": str(value), "code": code, "reason": reason}


def _rejected(kind: str, errors: list[dict[str, Any]], rows: int = 0) -> dict[str, Any]:
    """The body of a 400, in the shape of an import result."""
    bad_rows = {e["row"] for e in errors if e["row"] is not None}
    return {
        "kind": kind,
        "status": "rejected",
        "dry_run": False,
        "rows": rows,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": len(bad_rows),
        "customers_created": 0,
        "error_count": len(errors),
        "errors": errors,
        "summary": "The request cannot be imported; nothing was written.",
        "job": None,
    }


def _shape_errors(rows: Any) -> list[dict[str, Any]]:
    """Records must be JSON objects of single values (text, number, true/false, null)."""
    if not isinstance(rows, list):
        return [_error(None, "rows", "", "invalid", "must be a list of objects")]
    errors = []
    for number, record in enumerate(rows, start=1):
        if not isinstance(record, dict):
            errors.append(_error(number, "", "", "invalid", "must be an object"))
            continue
        for key, value in record.items():
            if not isinstance(value, SCALARS):
                errors.append(
                    _error(number, str(key), "", "invalid", "must be a text, a number or null")
                )
    return errors


def _result_body(result, job: int | None = None) -> dict[str, Any]:
    return {**result.as_dict(), "job": job}


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class RecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read, create, update and bulk-upsert one kind of record, by ``external_id``."""

    kind = ""
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"
    permission_classes = [PersonaPermission]
    read_personas = DATA_READERS
    write_personas = WRITERS
    pagination_class = ApiPagination

    def initial(self, request: Request, *args, **kwargs) -> None:
        """After authentication and permissions, and before the body is parsed: a write
        larger than ``IMPORT_MAX_BYTES`` (by its Content-Length) is refused with 413."""
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = import_services.import_limits().max_bytes
            if length > limit:
                raise RequestTooLarge(too_large_message(length, limit, what="request"))

    def get_serializer_class(self):
        return serializers.READ_SERIALIZERS[self.kind]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return self.model.objects.none()
        params = {}
        if self.action == "list":
            filters = serializers.RecordFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            params = filters.validated_data
        return selectors.api_records(kind=self.kind, user=self.request.user, **params)

    @property
    def model(self):
        return SPECS[self.kind].model

    def _write(self, record: dict[str, Any], *, created_status: int) -> Response:
        shape = _shape_errors([record])
        if shape:
            return Response(_rejected(self.kind, shape, 1), status=status.HTTP_400_BAD_REQUEST)
        result = import_services.record_upsert(
            kind=self.kind, record=record, user=self.request.user
        )
        try:
            if not result.ok:
                return Response(_result_body(result), status=status.HTTP_400_BAD_REQUEST)
        finally:
            result.close()
        instance = self.get_queryset().get(external_id=str(record["external_id"]).strip())
        code = created_status if result.created else status.HTTP_200_OK
        return Response(self.get_serializer(instance).data, status=code)

    def create(self, request: Request) -> Response:
        record = request.data
        if not isinstance(record, dict):
            return Response(
                _rejected(self.kind, [_error(None, "", "", "invalid", "must be an object")]),
                status=status.HTTP_400_BAD_REQUEST,
            )
        key = record.get("external_id")
        if (
            key not in (None, "")
            and self.model.objects.filter(external_id=str(key).strip()).exists()
        ):
            errors = [
                _error(
                    1, "external_id", key, "exists", "already exists: update it with PUT or PATCH"
                )
            ]
            return Response(_rejected(self.kind, errors, 1), status=status.HTTP_400_BAD_REQUEST)
        return self._write(dict(record), created_status=status.HTTP_201_CREATED)

    def update(self, request: Request, external_id: str) -> Response:
        """PUT: the whole record; creates it when it does not exist yet."""
        record = request.data
        if not isinstance(record, dict):
            return Response(
                _rejected(self.kind, [_error(None, "", "", "invalid", "must be an object")]),
                status=status.HTTP_400_BAD_REQUEST,
            )
        mismatch = self._key_mismatch(record, external_id)
        if mismatch:
            return mismatch
        return self._write({**record, "external_id": external_id}, created_status=201)

    def partial_update(self, request: Request, external_id: str) -> Response:
        """PATCH: only the fields sent change; the record must exist."""
        instance = self.get_object()
        record = request.data
        if not isinstance(record, dict):
            return Response(
                _rejected(self.kind, [_error(None, "", "", "invalid", "must be an object")]),
                status=status.HTTP_400_BAD_REQUEST,
            )
        mismatch = self._key_mismatch(record, external_id)
        if mismatch:
            return mismatch
        current = import_selectors.record_as_row(SPECS[self.kind], instance)
        return self._write({**current, **record}, created_status=status.HTTP_200_OK)

    def _key_mismatch(self, record: dict[str, Any], external_id: str) -> Response | None:
        given = record.get("external_id")
        if given not in (None, "", external_id):
            errors = [_error(1, "external_id", given, "invalid", "differs from the URL's")]
            return Response(_rejected(self.kind, errors, 1), status=status.HTTP_400_BAD_REQUEST)
        return None

    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        """Upsert many records at once, all or nothing, as an import of a file would."""
        data = request.data
        if isinstance(data, list):
            data = {"rows": data}
        if not isinstance(data, dict):
            errors = [_error(None, "", "", "invalid", "must be an object with rows")]
            return Response(_rejected(self.kind, errors), status=status.HTTP_400_BAD_REQUEST)
        rows = data.get("rows")
        errors = _shape_errors(rows)
        if not errors and not rows:
            errors = [_error(None, "rows", "", "no_rows", "must hold at least one record")]
        if not errors and len(rows) > import_services.MAX_API_ROWS:
            errors = [
                _error(
                    None,
                    "rows",
                    len(rows),
                    "too_many_rows",
                    f"at most {import_services.MAX_API_ROWS:,} records per request",
                )
            ]
        if errors:
            count = len(rows) if isinstance(rows, list) else 0
            return Response(_rejected(self.kind, errors, count), status=400)
        try:
            result = import_services.import_run(
                kind=self.kind,
                source=rows,
                dry_run=bool(data.get("dry_run", False)),
                create_missing_customers=bool(data.get("create_missing_customers", False)),
                user=request.user,
                origin=ImportJob.Origin.API,
                file_name=f"API: {len(rows):,} {self.kind}",
                keep_errors=None,
            )
        except import_services.ImportAlreadyRunning as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        try:
            code = status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST
            return Response(_result_body(result, result.job_id), status=code)
        finally:
            result.close()


def _record_viewset(kind: str) -> type[RecordViewSet]:
    label = SPECS[kind].kind.label.lower()
    read = serializers.READ_SERIALIZERS[kind]
    row = serializers.ROW_SERIALIZERS[kind]
    rejected = OpenApiResponse(
        serializers.ImportResultSerializer, description="Invalid: errors as an import reports them."
    )
    tags = [kind]
    viewset = type(f"{kind.title()}ViewSet", (RecordViewSet,), {"kind": kind})
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {label}",
            parameters=[serializers.RecordFilterSerializer],
            tags=tags,
        ),
        retrieve=extend_schema(summary=f"One of the {label}, by external_id", tags=tags),
        create=extend_schema(
            summary=f"Create one of the {label}",
            request=row,
            responses={201: read, 400: rejected},
            tags=tags,
        ),
        update=extend_schema(
            summary=f"Create or replace one of the {label}",
            request=row,
            responses={200: read, 201: read, 400: rejected},
            tags=tags,
        ),
        partial_update=extend_schema(
            summary=f"Change some fields of one of the {label}",
            request=row,
            responses={200: read, 400: rejected},
            tags=tags,
        ),
        bulk=extend_schema(
            summary=f"Upsert many {label}, all or nothing",
            description=(
                "Records are matched on `external_id`: new ones are created, changed ones "
                "updated, the rest left alone. One bad record rejects the request and "
                "nothing is written. Recorded in the import history."
            ),
            request=serializers.BULK_SERIALIZERS[kind],
            responses={
                200: serializers.ImportResultSerializer,
                400: rejected,
                409: OpenApiResponse(
                    serializers.DetailSerializer,
                    description="Another import of this kind is running.",
                ),
            },
            tags=tags,
        ),
    )(viewset)


RECORD_VIEWSETS = {kind: _record_viewset(kind) for kind in SPECS}


@extend_schema_view(
    list=extend_schema(
        summary="List role blueprints",
        parameters=[serializers.BlueprintFilterSerializer],
        tags=["roles"],
    ),
    retrieve=extend_schema(summary="One role blueprint", tags=["roles"]),
)
class BlueprintViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.BlueprintSerializer
    permission_classes = [PersonaPermission]
    read_personas = ROLE_READERS
    pagination_class = ApiPagination

    def get_queryset(self):
        filters = serializers.BlueprintFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.api_blueprints(**filters.validated_data)


@extend_schema_view(
    list=extend_schema(
        summary="List charters",
        parameters=[serializers.CharterFilterSerializer],
        tags=["roles"],
        description="Date range on the date the charter was agreed.",
    ),
    retrieve=extend_schema(summary="One charter", tags=["roles"]),
)
class CharterViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = serializers.CharterSerializer
    permission_classes = [PersonaPermission]
    read_personas = ROLE_READERS
    pagination_class = ApiPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return self.serializer_class.Meta.model.objects.none()
        params = {}
        if self.action == "list":
            filters = serializers.CharterFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            params = filters.validated_data
        return selectors.api_charters(user=self.request.user, **params)


# --- schema and interactive docs (assets served from our static files) ---------------

schema_view = SpectacularAPIView.as_view(permission_classes=[IsAuthenticated])
# The split view serves Swagger UI's start-up script as a file of its own, so the page
# runs under a Content-Security-Policy without inline scripts.
docs_view = login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema"))

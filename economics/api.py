"""The economics over the REST API: start and follow runs, read and set the cost model.
Admins and executives; the same services as the pages."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.personas import Persona
from api.permissions import PersonaPermission

from . import services
from .forms import RunForm
from .models import CostModel, CustomerScore, EconomicsRun
from .selectors import run_report

MANAGERS = (Persona.ADMIN, Persona.EXECUTIVE)

SCORE_FIELDS = [
    "revenue", "gross_margin", "cost_to_serve", "acquisition_cost", "profit_to_date",
    "annual_value", "annual_profit", "p_alive", "expected_purchases",
    "predicted_future_value", "clv", "role_fit", "compliance", "klass", "flags",
]  # fmt: skip


class CustomerFiguresSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id")
    as_of = serializers.DateField(source="run.as_of")

    class Meta:
        model = CustomerScore
        fields = ["run", "as_of", *SCORE_FIELDS]


class EconomicsRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = EconomicsRun
        fields = [
            "id", "as_of", "holdout_end", "status", "is_current", "trigger", "stage",
            "progress", "created_at", "started_at", "finished_at", "customers", "error",
        ]  # fmt: skip
        read_only_fields = fields


class RunRequestSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False)
    holdout_end = serializers.DateField(required=False, allow_null=True)


class CostModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostModel
        fields = services.COST_MODEL_FIELDS


@extend_schema_view(
    list=extend_schema(summary="Economics runs, newest first", tags=["economics"]),
    retrieve=extend_schema(summary="One run, with its model, KPIs and timings", tags=["economics"]),
    create=extend_schema(
        summary="Start a run",
        request=RunRequestSerializer,
        responses={202: EconomicsRunSerializer},
        tags=["economics"],
        description="Queued and computed in the background; 409 while another run is "
        "under way. Follow it with GET until `status` is succeeded or failed.",
    ),
)
class EconomicsRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = EconomicsRunSerializer
    permission_classes = [PersonaPermission]
    read_personas = MANAGERS
    write_personas = MANAGERS
    queryset = EconomicsRun.objects.order_by("-created_at", "-pk")

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        run = self.get_object()
        return Response({**self.get_serializer(run).data, "report": run_report(run)})

    def create(self, request: Request, *args, **kwargs) -> Response:
        form = RunForm(
            {
                "as_of": request.data.get("as_of") or timezone.localdate(),
                "holdout_end": request.data.get("holdout_end") or "",
            }
        )
        if not form.is_valid():
            return Response({"errors": form.errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            run = services.run_request(
                as_of=form.cleaned_data["as_of"],
                holdout_end=form.cleaned_data.get("holdout_end"),
                trigger=EconomicsRun.Trigger.API,
                user=request.user,
            )
        except services.EconomicsRunBusy as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        run.refresh_from_db()
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


class CostModelView(APIView):
    permission_classes = [PersonaPermission]
    read_personas = MANAGERS
    write_personas = MANAGERS

    @extend_schema(summary="The cost model in force", responses=CostModelSerializer,
                   tags=["economics"])  # fmt: skip
    def get(self, request: Request) -> Response:
        return Response(CostModelSerializer(services.cost_model_get()).data)

    @extend_schema(summary="Change the cost model (the next run uses it)",
                   request=CostModelSerializer, responses=CostModelSerializer,
                   tags=["economics"])  # fmt: skip
    def patch(self, request: Request) -> Response:
        serializer = CostModelSerializer(services.cost_model_get(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            model = services.cost_model_update(user=request.user, **serializer.validated_data)
        except ValidationError as exc:
            return Response({"errors": exc.message_dict}, status=status.HTTP_400_BAD_REQUEST)
        return Response(CostModelSerializer(model).data)

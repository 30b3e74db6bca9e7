"""The test-postback API: schedule a batch, read its log, cancel what is not sent yet."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from postbacks_project.permissions import requires

from . import services
from .serializers import TestBatchSerializer, TestPostbackSerializer

SEND = requires("testing_tools.send_test_postback")
READ_LOG = requires("testing_tools.view_testpostback")

BatchLog = inline_serializer(
    "TestBatchLog",
    {
        "batch": serializers.UUIDField(),
        "final": serializers.BooleanField(help_text="True when every row is succeeded, failed or cancelled."),
        "rows": TestPostbackSerializer(many=True),
    },
)


def batch_log(batch):
    rows = services.batch_rows(batch)
    return {"batch": str(batch), "final": services.is_final(rows), "rows": TestPostbackSerializer(rows, many=True).data}


@extend_schema(request=TestBatchSerializer, responses={201: BatchLog}, summary="Schedule test postbacks")
@api_view(["POST"])
@permission_classes([SEND])
def send_batch(request):
    """Schedule one test postback per row; row N waits its delay after row N-1."""
    incoming = TestBatchSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    batch = services.schedule_batch(incoming.validated_data["rows"], request.user)
    return Response(batch_log(batch), status=status.HTTP_201_CREATED)


@extend_schema(responses={200: BatchLog}, summary="The log of a batch of test postbacks")
@api_view(["GET"])
@permission_classes([READ_LOG])
def batch_detail(request, batch):
    return _log_or_404(batch)


@extend_schema(request=None, responses={200: BatchLog}, summary="Cancel the rows of a batch not yet sent")
@api_view(["POST"])
@permission_classes([SEND])
def batch_cancel(request, batch):
    """A cancelled row is never sent, even when its task is already queued."""
    services.cancel(batch)
    return _log_or_404(batch)


def _log_or_404(batch):
    log = batch_log(batch)
    if not log["rows"]:
        return Response({"detail": "no such batch"}, status=status.HTTP_404_NOT_FOUND)
    return Response(log)

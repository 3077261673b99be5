from django.db import models


class PredictionLog(models.Model):
    """One served prediction (the rule book's log schema, plus variant and deployment).

    Its own table, apart from application logs. Written in bulk by the drain worker (or
    directly in embedded mode); (request_id, model_name, variant) is unique so a retried
    batch never duplicates a row. Nothing else references it: the purge deletes freely.
    """

    model_name = models.CharField(max_length=128)
    model_version = models.PositiveIntegerField()
    variant = models.CharField(max_length=32, help_text="champion, challenger, shadow, batch or stream.")
    deployment_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=128)
    ts = models.DateTimeField(help_text="When the prediction was served (UTC).")
    features = models.JSONField(default=dict)
    prediction = models.JSONField(null=True)
    latency_ms = models.FloatField()
    ground_truth = models.JSONField(null=True, blank=True)
    ground_truth_at = models.DateTimeField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # request_id first: the index also answers feedback's lookups by request id alone.
            models.UniqueConstraint(fields=["request_id", "model_name", "variant"], name="prediction_unique_request"),
        ]
        indexes = [
            models.Index(fields=["model_name", "ts"], name="prediction_model_ts"),
            models.Index(fields=["model_name", "model_version", "ts"], name="prediction_model_version_ts"),
            # Appended in time order, so cheap to maintain; serves the purge and the unfiltered list.
            models.Index(fields=["ts"], name="prediction_ts"),
        ]

    def __str__(self) -> str:
        return f"{self.model_name} v{self.model_version} {self.variant} {self.request_id}"

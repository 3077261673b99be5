"""Every write to the registry. Each service is one transaction that locks the
model row first (so changes to one model are serialised, and two approvals cannot
both win), checks the rules, writes, and appends one journal event per change."""

from .catalogue import model_create, model_delete, model_update, version_register, version_update
from .promotions import promotion_approve, promotion_cancel, promotion_reject, promotion_request
from .stage_changes import model_rollback, version_set_stage

__all__ = [
    "model_create",
    "model_delete",
    "model_rollback",
    "model_update",
    "promotion_approve",
    "promotion_cancel",
    "promotion_reject",
    "promotion_request",
    "version_register",
    "version_set_stage",
    "version_update",
]

"""Every write to the registry. Each service is one transaction that locks the
model row first (so changes to one model are serialised, and two approvals cannot
both win), checks the rules, writes, and appends one journal event per change."""

from .aliases import (
    alias_delete,
    alias_resolve,
    alias_set,
    is_production_alias,
    model_rename,
    model_tag_set,
    version_delete,
    version_tag_set,
)
from .catalogue import (
    model_create,
    model_delete,
    model_update,
    version_register,
    version_register_from_source,
    version_update,
)
from .promotions import (
    promotion_approve,
    promotion_cancel,
    promotion_complete,
    promotion_reject,
    promotion_request,
    promotion_request_ensure,
)
from .stage_changes import model_rollback, version_set_stage, version_set_stage_imported

__all__ = [
    "alias_delete",
    "alias_resolve",
    "alias_set",
    "is_production_alias",
    "model_rename",
    "model_tag_set",
    "version_delete",
    "version_tag_set",
    "promotion_request_ensure",
    "promotion_complete",
    "model_create",
    "model_delete",
    "model_rollback",
    "model_update",
    "promotion_approve",
    "promotion_cancel",
    "promotion_reject",
    "promotion_request",
    "version_register",
    "version_register_from_source",
    "version_set_stage",
    "version_set_stage_imported",
    "version_update",
]

from rest_framework import pagination

from .errors import Invalid


class StrictPageSize:
    """`page_size` must be a positive whole number (a larger one is cut to max_page_size);
    DRF would silently fall back to the default, so a typo would go unnoticed."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise Invalid(
                f"'{self.page_size_query_param}' must be a positive whole number.",
                details={self.page_size_query_param: ["Must be a positive whole number."]},
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = f"Results per page (at most {self.max_page_size})."
        return parameters


class PageNumberPagination(StrictPageSize, pagination.PageNumberPagination):
    """`?page=N&page_size=M`, answering {count, next, previous, results}."""

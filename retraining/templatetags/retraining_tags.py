"""{% retraining_evaluation promotion %}: on the promotion request page, the evaluation of the
pipeline run that filed the request (nothing for a request filed by a person)."""

from django import template

from ..selectors import run_for_request

register = template.Library()


@register.inclusion_tag("retraining/_evaluation.html")
def retraining_evaluation(promotion):
    run = run_for_request(promotion.pk)
    return {"run": run, "evaluation": run.evaluation if run else None, "compact": True}

from django.http import HttpResponse


def home(request):
    return HttpResponse("placeholder")


audit_trail = token_list = token_revoke = home

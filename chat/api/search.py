"""Message search (being built)."""

from rest_framework.exceptions import APIException
from rest_framework.views import APIView


class SearchApi(APIView):
    def get(self, request):
        raise APIException("Not implemented yet.")

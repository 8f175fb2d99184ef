"""Account endpoints: one view per operation, rules in services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import selectors, services
from fastsock.core.errors import ApiError, ErrorCode
from fastsock.core.ratelimit import client_ip, rate_limit, rate_limit_user

from .serializers import ProfileUpdateInput, RegisterInput, UserOutput, UserSearchInput


def _submitted_username(request: Request) -> str:
    data = request.data if isinstance(request.data, dict) else {}
    username = data.get("username")
    return username.strip().lower() if isinstance(username, str) else ""


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(request=RegisterInput, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        rate_limit(request._request, action="auth.register.ip", key=client_ip)
        serializer = RegisterInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(TokenObtainPairView):
    """``{username, password}`` → ``{access, refresh}``; rate limited by address and by username."""

    authentication_classes: list[Any] = []

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rate_limit(request._request, action="auth.login.ip", key=client_ip)
        username = _submitted_username(request)
        if username:
            rate_limit(request._request, action="auth.login.username", key=lambda _group, _request: username)
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            raise ApiError(ErrorCode.INVALID_CREDENTIALS, "Wrong username or password.") from None


class TokenRefreshApi(TokenRefreshView):
    authentication_classes: list[Any] = []

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rate_limit(request._request, action="auth.refresh.ip", key=client_ip)
        return super().post(request, *args, **kwargs)


class MeApi(APIView):
    @extend_schema(responses=UserOutput)
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)

    @extend_schema(request=ProfileUpdateInput, responses=UserOutput)
    def patch(self, request: Request) -> Response:
        serializer = ProfileUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_profile_update(user=request.user, **serializer.validated_data)
        return Response(UserOutput(user).data)


class UserSearchApi(APIView):
    @extend_schema(parameters=[UserSearchInput], responses=UserOutput(many=True))
    def get(self, request: Request) -> Response:
        """People search for member pickers: active users by username or display name."""
        rate_limit_user(user_id=request.user.pk, action="accounts.search.user")
        params = UserSearchInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        limit = params.validated_data["limit"]
        users = list(
            selectors.user_search(
                query=params.validated_data["search"],
                exclude_user_id=request.user.pk,
                limit=limit + 1,
                after=params.validated_data.get("after"),
            )
        )
        next_cursor = users[limit - 1].username if len(users) > limit else None
        return Response({"results": UserOutput(users[:limit], many=True).data, "next": next_cursor})

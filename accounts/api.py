from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from ninja import Router, Schema

from accounts.access_tokens import token_exchange_for
from accounts.services import INVALID_REFRESH_TOKEN, access_token_issue
from accounts.throttle import refresh_check, refresh_failed
from platform_site.http.errors import NotAuthenticated, NotFound, ValidationFailed

router = Router(tags=["auth"])


class RefreshIn(Schema):
    refresh_token: str | None = None


class RefreshOut(Schema):
    access_token: str


class UserOut(Schema):
    id: str
    name: str
    email: str


def user_out(user) -> dict:
    return {"id": str(user.pk), "name": user.get_username(), "email": user.email or ""}


@router.post("/auth/refresh", auth=None, response=RefreshOut)
def refresh(request: HttpRequest, payload: RefreshIn):
    """Exchange an SDK token for an access token; throttled like the login page."""
    raw = payload.refresh_token
    if not raw:
        raise ValidationFailed("refresh_token is required.")
    refresh_check(request, raw)
    exchange = token_exchange_for(raw)
    if exchange is not None:
        # User code inside an execution: an access token for its metrics only.
        access_token = exchange(raw)
        if access_token is None:
            refresh_failed(request, raw)
            raise NotAuthenticated(INVALID_REFRESH_TOKEN)
        return {"access_token": access_token}
    try:
        return {"access_token": access_token_issue(refresh_token=raw)}
    except NotAuthenticated:
        refresh_failed(request, raw)
        raise


@router.get("/users/me", response=UserOut)
def users_me(request: HttpRequest):
    return user_out(request.user)


@router.get("/users/{user_id}", response=UserOut)
def users_get(request: HttpRequest, user_id: str):
    user = (
        get_user_model().objects.filter(pk=user_id).first()
        if user_id.isascii() and user_id.isdigit()  # "³".isdigit() is True too
        else None
    )
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return user_out(user)

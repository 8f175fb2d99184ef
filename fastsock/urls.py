from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fastsock.core import views as core_views
from telecom import tts_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("chat.api.urls")),
    path("api/v1/", include("calls.api.urls")),
    path("v1/", include("telecom.api.urls")),
    path("webhooks/", include("telecom.webhook_urls")),
    path("telecom/tts/<str:digest>.wav", tts_views.tts_audio, name="telecom-tts"),
    path("", include("accounts.urls")),
    path("", include("chat.urls")),
    # Anything else under an API prefix answers in the API's error shape.
    re_path(r"^(api|v1|webhooks)/", core_views.api_not_found),
]

handler400 = "fastsock.core.views.bad_request"
handler403 = "fastsock.core.views.permission_denied"
handler404 = "fastsock.core.views.page_not_found"
handler500 = "fastsock.core.views.server_error"

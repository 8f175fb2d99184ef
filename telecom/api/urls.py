from django.urls import path

from . import views

urlpatterns = [
    path("projects", views.ProjectsApi.as_view(), name="v1-projects"),
    path("projects/<int:project_id>", views.ProjectApi.as_view(), name="v1-project"),
    path("projects/<int:project_id>/keys", views.ProjectKeysApi.as_view(), name="v1-project-keys"),
    path("projects/<int:project_id>/keys/<int:key_id>", views.ProjectKeyApi.as_view(), name="v1-project-key"),
    path("messages", views.MessagesApi.as_view(), name="v1-messages"),
    path("messages/<str:sid>", views.MessageApi.as_view(), name="v1-message"),
    path("usage", views.UsageApi.as_view(), name="v1-usage"),
]

from django.urls import path

from . import calls, flows, views

urlpatterns = [
    path("projects", views.ProjectsApi.as_view(), name="v1-projects"),
    path("projects/<int:project_id>", views.ProjectApi.as_view(), name="v1-project"),
    path("projects/<int:project_id>/keys", views.ProjectKeysApi.as_view(), name="v1-project-keys"),
    path("projects/<int:project_id>/keys/<int:key_id>", views.ProjectKeyApi.as_view(), name="v1-project-key"),
    path("messages", views.MessagesApi.as_view(), name="v1-messages"),
    path("messages/<str:sid>", views.MessageApi.as_view(), name="v1-message"),
    path("usage", views.UsageApi.as_view(), name="v1-usage"),
    path("flows", flows.FlowsApi.as_view(), name="v1-flows"),
    path("flows/<str:flow_id>", flows.FlowApi.as_view(), name="v1-flow"),
    path("flows/<str:flow_id>/versions", flows.FlowVersionsApi.as_view(), name="v1-flow-versions"),
    path("flows/<str:flow_id>/versions/<str:number>", flows.FlowVersionApi.as_view(), name="v1-flow-version"),
    path("flows/<str:flow_id>/activate", flows.FlowActivateApi.as_view(), name="v1-flow-activate"),
    path("calls", calls.CallsApi.as_view(), name="v1-calls"),
    path("calls/<str:sid>", calls.CallApi.as_view(), name="v1-call"),
    path("calls/<str:sid>/recordings/<str:recording_sid>", calls.CallRecordingApi.as_view(), name="v1-call-recording"),
]

from django.apps import AppConfig


class TelecomConfig(AppConfig):
    name = "telecom"
    verbose_name = "Telecom"

    def ready(self) -> None:
        from chat import services as chat_services

        from . import inbound

        chat_services.on_new_messages(inbound.replies_from_chat)

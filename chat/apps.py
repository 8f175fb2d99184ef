from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from fastsock.core import presence

        from . import consumers, selectors

        consumers.register()
        presence.register_audience(selectors.co_member_ids)

"""SMS gateway adapters: one small interface (:mod:`.base`), one module per gateway."""

from telecom.gateways.base import (
    DeliveryReport,
    GatewayError,
    GatewayRejected,
    GatewayTransportError,
    InboundMessage,
    InvalidCallback,
    SendRequest,
    SendResult,
    SmsGateway,
)
from telecom.gateways.jasmin import JasminGateway
from telecom.gateways.kannel import KannelGateway

__all__ = [
    "DeliveryReport",
    "GatewayError",
    "GatewayRejected",
    "GatewayTransportError",
    "InboundMessage",
    "InvalidCallback",
    "JasminGateway",
    "KannelGateway",
    "SendRequest",
    "SendResult",
    "SmsGateway",
]

"""The vision endpoint for camera boards: the URL the hub advertises in MCP ``initialize``
(``capabilities.vision``), served as the XiaoZhi firmware uses it (``Esp32Camera::Explain``)."""

from .service import VisionService

__all__ = ["VisionService"]

"""A real RTSP server for the live tests: GStreamer's gst-rtsp-server (Debian's gir1.2-gst-rtsp-server-1.0),
serving an H.264 MP4 as it is (no re-encoding) at /cam, each client from the start.

Runs under Debian's own Python (``/usr/bin/python3``, which has ``gi``):
    /usr/bin/python3 tests/rtsp_server.py PORT VIDEO.mp4
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, video = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{video}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(None)
    print(f"rtsp://127.0.0.1:{port}/cam", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()

"""`python -m devtools.emulator --port 0`: serve the emulator; print EMULATOR_READY <url> once listening."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from werkzeug.serving import make_server

from devtools.emulator.app import create_emulator_app
from devtools.emulator.config import SCORE_SCALES, SHAPES, EmulatorConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.emulator", description="A local Nanonets API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", action="append", dest="api_keys", help="accepted key (repeatable)")
    parser.add_argument("--model-id", action="append", dest="model_ids", help="known model (repeatable)")
    parser.add_argument("--webhook-url")
    parser.add_argument("--processing-delay", type=float, default=0.05)
    parser.add_argument("--webhook-shape", choices=[*SHAPES, "mixed"], default="export")
    parser.add_argument("--score-scale", choices=SCORE_SCALES, default="live")
    parser.add_argument("--pages-per-minute", type=int, help="per model; unset = no limit")
    parser.add_argument("--time-scale", type=float, default=1.0, help="minutes per limit minute (0.05 = 3 s)")
    parser.add_argument("--credit-pages", type=int, help="pages before 402; unset = unlimited")
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        api_keys=args.api_keys or ["emulator-key"],
        model_ids=args.model_ids or ["emulator-model"],
        webhook_url=args.webhook_url,
        processing_delay=args.processing_delay,
        webhook_shape=args.webhook_shape,
        score_scale=args.score_scale,
        pages_per_minute=args.pages_per_minute,
        time_scale=args.time_scale,
        credit_pages=args.credit_pages,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    server = make_server(args.host, args.port, create_emulator_app(config), threaded=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"EMULATOR_READY http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

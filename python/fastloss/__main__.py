"""``python -m fastloss``: command-line tools. ``plot`` draws losses and their gradients
(``python -m fastloss plot huber log_cosh mae --out curves.png``; see ``fastloss._plot``)."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastloss")
    commands = parser.add_subparsers(dest="command", required=True)
    from . import _plot

    _plot.add_arguments(commands.add_parser(
        "plot", help="draw losses and their gradients against the residual or the margin"))
    args = parser.parse_args(argv)
    try:
        _plot.run(args)
    except (ValueError, TypeError, ImportError) as e:
        # the checks' messages name the function and the argument; no traceback for them
        print(f"python -m fastloss {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python3 -m tests.chaos``: every fault, rounds interleaved, then the table.

Full mode unless QUEUE_JOB_TEST_MODE says otherwise (``--quick`` for a short
run). Exit code 0 only if every round ran and passed; 2 when Odoo is not
importable.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from .core import FAULT_ORDER, FAULTS, MODES, ChaosStack, current_mode, format_table, run_rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="quick mode (1 round per fault, 60 jobs)")
    parser.add_argument("--faults", default=",".join(FAULT_ORDER),
                        help=f"comma-separated faults among {', '.join(FAULT_ORDER)} (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the harness' steps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from harness.odoo_setup import odoo_importable, odoo_unavailable_reason

    reason = odoo_unavailable_reason() if odoo_importable() else (odoo_unavailable_reason() or "`import odoo` fails")
    if reason:
        print(f"chaos suite NOT run: it needs an importable Odoo 18 -- {reason}", file=sys.stderr)
        return 2
    mode = MODES["quick"] if args.quick else current_mode(default="full")
    faults = [name.strip() for name in args.faults.split(",") if name.strip()]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")

    def interrupted(signum, frame):
        raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does

    signal.signal(signal.SIGTERM, interrupted)
    started = time.monotonic()
    stack = ChaosStack(mode)
    complete = True
    try:
        stack.start()
        print(f"chaos ({mode.name} mode): stack up in {time.monotonic() - started:.0f} s", flush=True)

        def progress(result):
            print(f"  round {result.number} {result.fault}: {'ok' if result.passed else 'FAILED'} "
                  f"in {result.seconds:.0f} s", flush=True)

        run_rounds(stack, range(1, mode.rounds + 1), faults, quiet_runner="runner" in faults, progress=progress)
        progress(stack.run_worker_killer(1))
    except KeyboardInterrupt:
        print("interrupted: the table shows the rounds run so far", file=sys.stderr)
        complete = False
    finally:
        # No second interrupt while tearing down, or processes would be left behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()
    seconds = time.monotonic() - started
    print()
    print(format_table(stack.results, f"queue_job chaos rounds ({mode.name} mode)"))
    print("\ndetails:")
    for result in stack.results:
        print(result.describe())
    passed = sum(r.passed for r in stack.results)
    print(f"{passed} of {len(stack.results)} rounds passed in {seconds:.0f} s "
          f"({mode.rounds} round(s) per fault, {mode.jobs} jobs per round)")
    return 0 if complete and stack.results and passed == len(stack.results) else 1


if __name__ == "__main__":
    sys.exit(main())

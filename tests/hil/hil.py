#!/usr/bin/env python3
"""wdfx hardware-in-the-loop harness (see tests/hil/README.md).

  hil.py prepare [--flavour fast|system]    fetch and cache the kernel (and the systemd root fs)
  hil.py run SPEC [--fixture]               boot the guest SPEC describes, write one result per case
  hil.py run SPEC --expect-infra            the watchdog's negative control: exit 0 iff every attempt
                                            ended in an infrastructure failure (retried once)
  hil.py check RESULT.json [--expect PASS|FAIL|INFRA]   a ctest case: pass iff the case's result is as
                                            expected (FAIL: reported by the guest, on the first and only
                                            attempt; INFRA: no guest report, two attempts)

Exit status: 0 success; 1 failure; 77 skipped (prerequisites missing on a developer machine; in CI,
CI=true, that is a failure instead)."""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # never litter the source tree with __pycache__

from harness import boot, common, prepare  # noqa: E402
from harness.common import HilError, SKIP, log  # noqa: E402


def cmd_prepare(a):
    common.require_prerequisites(a.flavour)
    t0 = time.monotonic()
    k = prepare.prepare_kernel()
    log(f"kernel: {k['package']} {k['version']} ({k['kver']}), {k['vmlinux']}")
    if a.flavour == "system":
        log(f"root image: {prepare.prepare_rootfs(k)}")
    log(f"prepared in {time.monotonic() - t0:.1f} s (cache {common.cache_dir()})")
    return 0


def cmd_run(a):
    spec = boot.Spec(a.spec)
    problems = common.missing_prerequisites(spec.flavour)
    if problems:
        boot.write_skipped(spec, "; ".join(problems), failed=common.in_ci())
        common.require_prerequisites(spec.flavour)  # exits: fail in CI, skip elsewhere
    failures, infra = boot.run_boot(spec, echo=not a.quiet)
    if a.expect_infra:
        print(f"watchdog control: {'an infrastructure failure, as it must' if infra else 'the boot completed'}"
              + (f" ({infra})" if infra else ": expected the watchdog to kill it"))
        return 0 if infra else 1
    if infra:
        log(f"boot {spec.name}: INFRASTRUCTURE FAILURE: {infra}")
        return 1
    if a.fixture:
        # As a ctest fixture the boot succeeded once every case has a result; each case's own test
        # decides pass or fail from its result file.
        log(f"boot {spec.name}: complete, {failures} of {len(spec.cases)} case(s) did not pass")
        return 0
    return 1 if failures else 0


def cmd_check(a):
    try:
        with open(a.result) as f:
            r = json.load(f)
    except FileNotFoundError:
        print(f"hil: no result file {a.result}: the boot did not run or died before writing it")
        return 1
    if r["result"] == "SKIPPED":
        if common.in_ci():
            print(f"hil: ERROR: CI=true and the case was skipped: {r['reason']}")
            return 1
        print(f"hil: skipped: {r['reason']}")
        return SKIP
    print(f"case {r['case']} (boot {r['boot']}): {r['result']} {r['reason']}")
    if r.get("figures"):
        print("figures: " + json.dumps(r["figures"], indent=1))
    for line in boot.case_section(r.get("console_log", ""), r["case"]):
        print(f"  | {line}")
    if a.expect == "FAIL":
        # A negative control: the harness must have run the case and the guest must have reported the
        # failure itself; an infrastructure failure proves nothing.
        # A reported failure is never retried: one attempt.
        ok = (r["result"] == "FAIL" and r.get("reported_by_guest") and not r.get("infrastructure_failure")
              and r.get("attempts") == 1)
        print("negative control: " + ("the harness reported FAIL as it must, after one attempt" if ok else
                                      f"expected a FAIL reported by the guest, one attempt ({r.get('attempts')})"))
        return 0 if ok else 1
    if a.expect == "INFRA":
        # The watchdog's control: the guest never finished, the watchdog killed QEMU, the harness
        # retried once (an infrastructure failure) and the missing result counts as FAIL.
        infra = r.get("infrastructure_failure") or ""
        ok = (r["result"] == "FAIL" and not r.get("reported_by_guest") and "watchdog" in infra
              and r.get("attempts") == 2)
        print("watchdog control: " + ("killed, retried once, FAIL as it must" if ok else
                                      f"expected a watchdog kill on each of 2 attempts (attempts "
                                      f"{r.get('attempts')}, infrastructure failure {infra!r})"))
        return 0 if ok else 1
    return 0 if r["result"] == "PASS" else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="fetch and cache the guest kernel (and root fs)")
    pp.add_argument("--flavour", choices=["fast", "system"], default="fast")
    pr = sub.add_parser("run", help="boot one guest and write per-case results")
    pr.add_argument("spec", help="spec.json written by wdfx_add_hil_boot()")
    pr.add_argument("--fixture", action="store_true",
                    help="ctest fixture mode: exit 0 when every case has a result, whatever it is")
    pr.add_argument("--quiet", action="store_true", help="do not echo the console")
    pr.add_argument("--expect-infra", action="store_true",
                    help="negative control of the watchdog: exit 0 iff the boot ended in an infrastructure failure")
    pc = sub.add_parser("check", help="check one case's result file")
    pc.add_argument("result")
    pc.add_argument("--expect", choices=["PASS", "FAIL", "INFRA"], default="PASS")
    a = p.parse_args()
    try:
        return {"prepare": cmd_prepare, "run": cmd_run, "check": cmd_check}[a.cmd](a)
    except HilError as e:
        print(f"hil: ERROR: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

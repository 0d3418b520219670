#!/usr/bin/env python3
"""Summarise `go test -json` from stdin for the make test log (tools/testacc.sh).

Prints what plain `go test` prints (package lines, the output of failed tests), one
`--- PASS/FAIL/SKIP: TestAcc... (time)` line per top-level acceptance test, so the log
shows which tests ran under which CLI, and closes with
`LABEL: N passed, N failed, N skipped` over the top-level tests of every package.
Exits 1 when a test or package failed or no test ran at all.
"""
import json
import sys


def main() -> int:
    label = sys.argv[1] if len(sys.argv) > 1 else "go test"
    counts = {"pass": 0, "fail": 0, "skip": 0}
    output: dict[tuple[str, str], list[str]] = {}
    failed_pkgs = []
    failed_tests = []
    for line in sys.stdin:
        try:
            ev = json.loads(line)
        except ValueError:
            print(line, end="")  # not an event (e.g. a toolchain message)
            continue
        action, pkg, test = ev.get("Action"), ev.get("Package", ""), ev.get("Test", "")
        if action in ("build-output", "build-fail"):
            if ev.get("Output"):
                print(ev["Output"], end="")
            continue
        if action == "output":
            if test:
                output.setdefault((pkg, test), []).append(ev["Output"])
            else:
                print(ev["Output"], end="")  # TestMain's lines and the package's ok/FAIL
            continue
        if action not in counts:
            continue
        if not test:
            if action == "fail":
                failed_pkgs.append(pkg)
            continue
        lines = output.pop((pkg, test), [])
        if "/" in test:
            if action == "fail":  # the parent's failure prints it
                output.setdefault((pkg, test.split("/")[0]), []).extend(lines)
            continue
        counts[action] += 1
        if action == "fail":
            failed_tests.append(test)
            print("".join(lines), end="")
        elif test.startswith("TestAcc"):
            print(f"--- {action.upper()}: {test} ({ev.get('Elapsed', 0):.2f}s)")
    # Output of tests that never ended: the binary panicked or timed out.
    for (pkg, test), lines in output.items():
        if "/" not in test:
            failed_tests.append(f"{test} (did not finish)")
            print(f"--- {test} in {pkg} did not finish:")
            print("".join(lines), end="")
    total = sum(counts.values())
    print(f"{label}: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    if failed_tests:
        print(f"{label}: failed tests: {' '.join(failed_tests)}")
    if failed_pkgs:
        print(f"{label}: failed packages: {' '.join(failed_pkgs)}")
    if total == 0:
        print(f"{label}: no test ran")
    return 1 if counts["fail"] or failed_pkgs or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

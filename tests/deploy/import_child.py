"""Runs inside the clean python3.13 (``-I -S``) that ``import_check.py`` starts, one per function.

Nothing from the test harness is importable here: the path is set below to exactly what Lambda
gives a function (its code, the shared layer, the runtime's SDK) plus the interpreter's own
standard library. It imports the handler, invokes it once, and writes a JSON report: the handler's
result or the error, the import and invoke times, where boto3/botocore were loaded from, and every
loaded module whose file lies outside those paths.

Usage: python3.13 -I -S import_child.py SPEC.json   (SPEC: see ``import_check.child_spec``)
"""

import json
import os
import sys
import sysconfig
import time
import traceback


def _stdlib_roots():
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths["stdlib"]), os.path.realpath(paths["platstdlib"])}
    site = {os.path.realpath(paths["purelib"]), os.path.realpath(paths["platlib"])}
    return roots, site


def _under(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _origin(path, allowed, stdlib, site):
    """The allowed root a file lies under, "stdlib", or None (outside: a failure)."""
    real = os.path.realpath(path)
    for root in allowed:
        if _under(real, root):
            return root
    if any(_under(real, s) for s in site):
        return None  # the interpreter's own site-packages: never on Lambda's path
    if any(_under(real, r) for r in stdlib):
        return "stdlib"
    return None


def _module_files(module):
    files = []
    file = getattr(module, "__file__", None)
    if file:
        files.append(file)
    elif getattr(module, "__path__", None) is not None:  # namespace package: where its parts live
        files.extend(str(p) for p in list(module.__path__))
    return files


class Context:
    """The Lambda context attributes handlers and Powertools read."""

    def __init__(self, spec):
        self.function_name = spec["function_name"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec["memory_mb"]
        self.invoked_function_arn = spec["function_arn"]
        self.aws_request_id = spec["request_id"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "import-test"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + spec["timeout_s"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    allowed = [os.path.realpath(p) for p in spec["paths"]]
    stdlib, site = _stdlib_roots()
    # Lambda's order: function code, then the layer, then the runtime's packages; then the stdlib.
    sys.path[:] = allowed + [
        p for p in sys.path if p and not any(_under(os.path.realpath(p), s) for s in site)
    ]
    report = {"error": None, "result": None, "import_ms": None, "invoke_ms": None}
    module_name, _, handler_name = spec["handler"].rpartition(".")
    try:
        started, cpu = time.perf_counter(), time.process_time()
        module = __import__(module_name)
        report["import_ms"] = round((time.perf_counter() - started) * 1000, 1)
        report["import_cpu_ms"] = round((time.process_time() - cpu) * 1000, 1)
        if not spec.get("import_only"):
            with open(spec["event"], encoding="utf-8") as f:
                event = json.load(f)
            started = time.perf_counter()
            report["result"] = getattr(module, handler_name)(event, Context(spec))
            report["invoke_ms"] = round((time.perf_counter() - started) * 1000, 1)
    except BaseException as exc:
        report["error"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if isinstance(exc, ImportError | ModuleNotFoundError):
            report["missing_module"] = getattr(exc, "name", None)
    outside, origins = [], {}
    for name, module in sorted(sys.modules.items()):
        if module is None or module is sys.modules.get("__main__"):  # this script (also as __mp_main__)
            continue
        for file in _module_files(module):
            origin = _origin(file, allowed, stdlib, site)
            if origin is None:
                outside.append(f"{name}: {file}")
            elif name in ("boto3", "botocore", "aws_xray_sdk", "aws_lambda_powertools", "uptime_relay"):
                origins[name] = origin
    report["outside"] = outside
    report["origins"] = origins
    report["modules"] = len(sys.modules)
    with open(spec["report"], "w", encoding="utf-8") as f:
        json.dump(report, f, default=str)


if __name__ == "__main__":
    main()

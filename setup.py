"""Build hook: ``SHADOW_COMPILE=1`` compiles the simulation core with mypyc.

The same source, type-checked by ``mypy --strict``, becomes C extension modules: the arms run
about 1.7x faster and every run file stays byte-identical (a test compares both builds).
Without the variable (the default), and in every editable install, the package is pure Python,
so an edited model takes effect at once.
"""

from __future__ import annotations

import os
import sys
import tempfile

from setuptools import setup

#: The hot path: the kernel, the environment, the arm loop and the four models (not their
#: settings, read once per instance). Nothing here imports pandas, pydantic or rich
#: (tests/test_architecture.py keeps it so). Compiled frozen dataclasses do not unpickle: what
#: a worker sends back (outcome columns, ``DecisionEvent`` named tuples) must not be one. The
#: other classes here are ``mypyc_attr(allow_interpreted_subclasses=True)``: their ``__new__``
#: then leaves ``__init__`` alone, so pickle can rebuild them, which ``shadow watch``'s
#: checkpoints need (``shadow.simulation.warm``); ``serializable=True`` alone would do, but in
#: mypyc 1.x/2.x it also skips ``__init__`` when Python code calls the class.
COMPILED = [
    "shadow/kernel/__init__.py",
    "shadow/kernel/core.py",
    "shadow/kernel/gauges.py",
    "shadow/kernel/rand.py",
    "shadow/kernel/record.py",
    "shadow/world/environment.py",
    "shadow/world/arm_loop.py",
    "legacy_models/__init__.py",
    "legacy_models/chain.py",
    "legacy_models/coordinator.py",
    "legacy_models/orchestrator.py",
    "legacy_models/response_manager.py",
    "legacy_models/steps.py",
    "unified/__init__.py",
    "unified/caches.py",
    "unified/coordinator.py",
]

#: Commands that build: not ``egg_info`` (asked before mypy is installed) nor ``editable_wheel``
#: (an in-place extension would shadow every later edit of the source).
BUILDS = {"bdist_wheel", "build", "build_ext", "install"}

ext_modules = []
options = {}
building = bool(BUILDS.intersection(sys.argv))
build_base = tempfile.mkdtemp(prefix="shadow-build-") if building else ""
if building:
    # a fresh build folder: a module dropped from COMPILED must not linger as a stale extension
    options["build"] = {"build_base": build_base}
if os.environ.get("SHADOW_COMPILE") == "1" and building:
    from mypyc.build import mypycify

    # --config-file= : the project's mypy settings name plugins the build does not install
    # mypyc's generated C goes to the temporary build folder too, never to ./build/shadow/,
    # where run folders live (a capture named kernel.jsonl would collide)
    ext_modules = mypycify(
        ["--config-file=", *COMPILED],
        group_name="shadow_core",
        target_dir=os.path.join(build_base, "mypyc"),
    )
    for extension in ext_modules:
        # no fused multiply-add: a*b + c must round twice, as in Python, on every CPU
        extension.extra_compile_args.append("-ffp-contract=off")

setup(ext_modules=ext_modules, options=options)

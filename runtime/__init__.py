"""The elastic runtime: runs a pipeline's function in a fresh forked process per execution.

Standard library only, and it never imports Django or the settings: `zygote.py`,
`pod.py` and the siblings they load by path (`child.py`, `protocol.py`,
`user_code.py`...) also run under a pipeline's own virtualenv Python, and
the processes that run user code must not hold any platform secret.
The worker-side API is `runtime.pool.ZygotePool`, which runs a
`runtime.run_spec.RunSpec` and answers a `runtime.run_result.RunResult`.
"""

from __future__ import annotations

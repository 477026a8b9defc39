"""What the worker asks of the runtime for one run: RunSpec.

Apart from the pool so that code which only builds a spec (the execution
service, in processes that never run code) imports a dataclass, not the
pool and the modules it drives. Standard library only; never imports Django.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSpec:
    zygote_key: str  # e.g. f"{pipeline_id}:{python_executable}"; one zygote per key
    python_executable: str  # sys.executable or a pipeline venv's bin/python
    code_dir: str  # extracted pipeline code (absolute); sys.path[0] in the zygote
    function_path: str  # relative to code_dir, e.g. "src/main.py"
    function_name: str
    inputs: dict  # JSON-able kwargs for the function
    # [{"name": ..., "data_type": "string|number|boolean|json|array|file"}]
    outputs: list[dict]
    env: dict[str, str]  # the complete environment of the child
    work_dir: str  # created by the caller; the child chdirs here
    timeout_s: float  # <= 0: no limit
    memory_limit_mib: int  # <= 0: no limit
    # Added to the zygote's environment while it imports the module (module-level
    # os.environ reads: the platform's environment variables, never per-execution
    # values); a change starts a new zygote.
    import_env: dict[str, str] | None = None
    # Sandboxed, the one folder the zygote and its children may write to
    # (every run's work_dir lies inside it); part of the zygote's identity.
    work_root: str | None = None
    disk_limit_mib: int = 0  # <= 0: no limit on what work_dir may hold

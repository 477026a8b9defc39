"""The execution engine's domain operations, called by the API, the UI, tasks and other apps."""

from __future__ import annotations

from executions.services.creation import (
    execution_create,
    execution_create_for_run,
    execution_record_unrun,
)
from executions.services.inputs import (
    ResolvedInput,
    coerce_text,
    input_values_resolve,
    outputs_mapping_resolve,
    value_type_error,
)
from executions.services.lifecycle import (
    execution_channel,
    execution_claim,
    execution_delete,
    execution_error,
    execution_finish,
    execution_heartbeat,
    execution_release,
    execution_wait,
)
from executions.services.logs import LogSink, log_lines_after, log_lines_window
from executions.services.running import execution_run
from executions.services.serialize import (
    execution_output_values,
    execution_outputs_for_api,
    execution_summary_to_api,
    execution_to_api,
    io_to_api,
    iso,
    log_line_to_api,
)
from executions.services.sweeping import (
    broker_lost_messages,
    executions_reap_lost,
    executions_requeue_pending,
)
from executions.services.variables import (
    environment_variable_delete,
    environment_variables_set,
    variable_name_error,
)

__all__ = [
    "LogSink",
    "broker_lost_messages",
    "ResolvedInput",
    "coerce_text",
    "environment_variable_delete",
    "environment_variables_set",
    "execution_channel",
    "execution_claim",
    "execution_create",
    "execution_delete",
    "execution_error",
    "execution_finish",
    "execution_heartbeat",
    "execution_record_unrun",
    "execution_release",
    "execution_output_values",
    "execution_outputs_for_api",
    "execution_run",
    "execution_summary_to_api",
    "execution_to_api",
    "execution_wait",
    "execution_create_for_run",
    "executions_reap_lost",
    "executions_requeue_pending",
    "input_values_resolve",
    "io_to_api",
    "iso",
    "log_line_to_api",
    "log_lines_after",
    "log_lines_window",
    "outputs_mapping_resolve",
    "value_type_error",
    "variable_name_error",
]

"""Entry point in `localstack.lambda.runtime_executor`.

LocalStack picks it with LAMBDA_RUNTIME_EXECUTOR=local-process."""

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):  # type: ignore[misc]
    name = "local-process"

    def load(self, *args: Any, **kwargs: Any) -> type:
        # Imported lazily, like LocalStack's own docker plugin, so discovery stays cheap.
        from local_lambda_executor.executor import LocalProcessRuntimeExecutor  # noqa: PLC0415

        return LocalProcessRuntimeExecutor

"""LocalStack runtime-executor plugin that runs Lambda functions as local processes (no Docker).

`plugin` and `executor` run inside LocalStack (Python 3.13); `runtime` is started as a separate
process with the project's interpreter and depends on the standard library only.
"""

"""Facts shared by the API, the worker and the clients: job states, the jobs table, errors, signing."""

"""The webhook delivery function: signs and POSTs each ended job's outcome to its ``callbackUrl``."""

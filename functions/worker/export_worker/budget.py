"""How much Lambda time a render needs, and whose fault a render timeout was.

A render that starts without enough time left is killed mid-upload; a render that is refused for
lack of time comes back in a fresh invocation. One small rule decides, here.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_RENDER_SECONDS = 60.0
RENDER_SECONDS_PER_OUTPUT_SECOND = 2.0
# a fresh invocation has (about) the invocation budget; below this gap the record is "fresh"
FRESH_SLACK_SECONDS = 5.0
# below this much render time there is no point in starting at all
MIN_USEFUL_RENDER_SECONDS = 5.0


def estimated_render_seconds(output_seconds: float) -> float:
    """Conservative wall time of a render: max(60 s, 2x the output duration)."""
    return max(MIN_RENDER_SECONDS, RENDER_SECONDS_PER_OUTPUT_SECOND * output_seconds)


@dataclass(frozen=True)
class TimeBudget:
    """The time facts of one record: what is left now and what a fresh invocation would have."""

    remaining_seconds: float
    invocation_seconds: float  # remaining time when this invocation started
    upload_margin_seconds: float
    render_cap_seconds: float  # the job's own render limit

    def render_timeout(self, output_seconds: float) -> float | None:
        """The timeout to render with, or None when a fresh invocation would do better.

        The estimate is capped by what a fresh invocation could offer: a long job in a fresh
        invocation starts anyway (waiting cannot give it more time), bounded by the remaining time.
        """
        available = self.remaining_seconds - self.upload_margin_seconds
        if available < MIN_USEFUL_RENDER_SECONDS:
            return None
        fresh_available = self.invocation_seconds - self.upload_margin_seconds
        needed = min(estimated_render_seconds(output_seconds), fresh_available - FRESH_SLACK_SECONDS)
        if available < needed:
            return None
        return min(available, self.render_cap_seconds)

    def timeout_was_ours(self, render_timeout: float) -> bool:
        """True when the remaining time (not the job's limit) stopped the render and a retry has more."""
        bounded_by_us = render_timeout < self.render_cap_seconds
        fresh_has_more = self.invocation_seconds - self.remaining_seconds > FRESH_SLACK_SECONDS
        return bounded_by_us and fresh_has_more
